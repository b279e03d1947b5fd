// The entry of a JavaScript gate component (world `gate`): `gateCheck(gate)`, the
// `check` export.

import { checkGate } from './baton-sdk.js';

/** The `check` export for `gate`: the findings, as the WIT `finding` records. */
export function gateCheck(gate) {
  return function check(name, document, inputs, config) {
    const given = inputs.map((i) => [i.namespace, i.key, JSON.parse(i.value)]);
    return checkGate(gate, name, JSON.parse(document), given, JSON.parse(config || '{}')).map((f) => ({
      pointer: f.pointer, expected: f.expected, actual: f.actual, message: f.message,
    }));
  };
}
