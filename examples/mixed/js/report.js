// `report`: the total usable capacity and the kinds without one, from the Python
// stage's output.
import { Stage, StageError } from '../../../guest/js/baton-sdk.js';

export class Report extends Stage {
  run(ctx) {
    const capacity = ctx.read('coding/mixed/capacity');
    const kinds = Object.entries(capacity.usable_rps_by_kind);
    if (kinds.length === 0) throw new StageError('no kind has a capacity');
    const total = kinds.reduce((sum, [, rps]) => sum + rps, 0);
    ctx.emit('reportWritten', { kinds: kinds.length });
    return {
      total_usable_rps: Math.round(total * 10) / 10,
      largest: kinds.sort((a, b) => b[1] - a[1])[0][0],
      unrated: capacity.unrated,
    };
  }
}
