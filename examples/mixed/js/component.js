// The component's entry point: the `report` stage exported for world `stage`.
import { stageRun } from '../../../guest/js/stage.js';
import { Report } from './report.js';

export const run = stageRun(new Report());
