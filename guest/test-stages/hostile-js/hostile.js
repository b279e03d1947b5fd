// `hostile` in JavaScript: misbehaves in the way its config's `mode` names. It
// exports `run` itself (except for `sdk-exception`), so that it can return what the
// SDK would never let through (output that is not JSON) and throw past it.
import { get } from 'baton:stage/memory@0.1.0';
import { Stage } from '../../js/baton-sdk.js';
import { stageRun } from '../../js/stage.js';

class Throwing extends Stage {
  run(ctx) {
    return { value: ctx.config.missing.field };
  }
}

const viaSdk = stageRun(new Throwing());

// What `remember` left behind in earlier runs of this instance's memory.
const remembered = [];

export function run(ctx) {
  const mode = JSON.parse(ctx.config || '{}').mode ?? 'ok';
  switch (mode) {
    case 'ok':
      return JSON.stringify({ ok: true });
    case 'remember':
      // 8 MiB of marked memory left behind: a fresh memory finds only this run's.
      remembered.push(new Uint8Array(8 << 20).fill(0xab));
      return JSON.stringify({ runs: remembered.length });
    case 'loop': {
      let n = 0;
      for (;;) n += 1;
    }
    case 'memory-bomb': {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 20).fill(7));
    }
    case 'undeclared-read':
      return JSON.stringify({ read: get(ctx.namespace, 'secrets/api-token') !== undefined });
    case 'exception':
      throw new TypeError('no such field: `components`');
    case 'sdk-exception':
      return viaSdk(ctx);
    case 'not-json':
      return 'this is not JSON {';
    default:
      throw { tag: 'failed', val: `unknown mode ${mode}` };
  }
}
