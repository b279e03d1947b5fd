// The smallest JavaScript stage, for the runtime benchmark: returns a constant.
import { Stage } from '../../js/baton-sdk.js';
import { stageRun } from '../../js/stage.js';

class Minimal extends Stage {
  run(ctx) {
    return { ok: true, stage: ctx.stage };
  }
}

export const run = stageRun(new Minimal());
