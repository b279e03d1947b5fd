// baton's SDK for stages and gates written in JavaScript (built with componentize-js).
//
// A stage extends `Stage` and returns its output, any JSON-serialisable value; a gate
// extends `Gate` and returns findings. The component's entry module exports them
// with `stage.js` / `gate.js`, which reach the host through the WIT imports:
//
//   // app.js: the logic, testable natively
//   import { Stage } from './baton-sdk.js';
//   export class Summary extends Stage {
//     run(ctx) {
//       const names = ctx.read('coding/architecture/system', '/components').map((c) => c.name);
//       ctx.emit('summarised', { count: names.length });
//       return { names };
//     }
//   }
//   // component.js: the entry point componentize-js builds
//   import { stageRun } from './stage.js';
//   import { Summary } from './app.js';
//   export const run = stageRun(new Summary());
//
// `ctx.read` returns a key's document parsed; a missing key, or nothing at the JSON
// pointer asked for, throws `InputError` naming the key and the pointer (the WIT
// `stage-error.invalid-input`). Throw `StageError` for any other failure; any other
// exception fails the stage too, with its stack. This module imports nothing from the
// host, so that it runs under Node for tests (`Context.forTest`).

/** The stage could not produce its output: fails it with this message. */
export class StageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StageError';
  }
}

/** An input is missing or malformed: the key, the JSON pointer and what is wrong. */
export class InputError extends StageError {
  constructor(namespace, key, pointer, message) {
    super(`input \`${key}\` in namespace \`${namespace}\`${pointer ? ` at ${pointer}` : ''}: ${message}`);
    this.name = 'InputError';
    this.namespace = namespace;
    this.key = key;
    this.pointer = pointer;
    this.detail = message;
  }
}

/** One problem a gate found. */
export class Finding {
  constructor(pointer, expected, actual, message) {
    this.pointer = pointer;
    this.expected = expected;
    this.actual = actual;
    this.message = message;
  }
}

const MISSING = Symbol('missing');

/** The part of `document` at JSON pointer `pointer` (RFC 6901), or `MISSING`. */
function atPointer(document, pointer) {
  if (pointer === '') return document;
  if (!pointer.startsWith('/')) throw new StageError(`JSON pointer ${JSON.stringify(pointer)} must start with \`/\``);
  let part = document;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(part)) {
      if (!/^\d+$/.test(token) || Number(token) >= part.length) return MISSING;
      part = part[Number(token)];
    } else if (part !== null && typeof part === 'object') {
      if (!Object.prototype.hasOwnProperty.call(part, token)) return MISSING;
      part = part[token];
    } else {
      return MISSING;
    }
  }
  return part;
}

/** Where and as whom a stage runs, and its way to the host. */
export class Context {
  constructor(host, info) {
    this.host = host;
    this.stage = info.stage;
    this.agentName = info.agentName;
    this.agentId = info.agentId;
    this.workflowId = info.workflowId;
    this.namespace = info.namespace;
    this.outputKey = info.outputKey;
    this.config = info.config ?? {};
  }

  /** A context over `memory` (`key` or `namespace:key` to a document), for tests. */
  static forTest(memory = {}, { stage = 'test-stage', namespace = 'coding-pipeline', config = {} } = {}) {
    return new Context(new FakeHost(memory, namespace), {
      stage, agentName: stage, agentId: `${stage}-test`, workflowId: 'workflow-test',
      namespace, outputKey: 'test/output', config,
    });
  }

  /** The document at `key`, or its part at JSON `pointer`; throws `InputError`. */
  read(key, pointer = '', namespace = undefined) {
    const ns = namespace ?? this.namespace;
    const found = this.host.get(ns, key);
    if (found === undefined) throw new InputError(ns, key, '', 'not found');
    const part = atPointer(JSON.parse(found.value), pointer);
    if (part === MISSING) throw new InputError(ns, key, pointer, 'nothing at this pointer');
    return part;
  }

  /** The document at `key`, or undefined when there is none. */
  readOptional(key, namespace = undefined) {
    const found = this.host.get(namespace ?? this.namespace, key);
    return found === undefined ? undefined : JSON.parse(found.value);
  }

  /** The live keys starting with `prefix` that the stage may read. */
  listKeys(prefix, namespace = undefined) {
    return this.host.listKeys(namespace ?? this.namespace, prefix);
  }

  /** Records the milestone `agent.<agent-name>.<name>` with `attributes`. */
  emit(name, attributes = {}) {
    this.host.emit(name, JSON.stringify(attributes));
  }

  /** A diagnostic line in the host's log: trace, debug, info, warn or error. */
  log(message, level = 'info') {
    this.host.log(level, message);
  }
}

/** A pipeline stage: `run(ctx)` returns the output. */
export class Stage {
  run(_ctx) {
    throw new StageError('run is not implemented');
  }
}

/** A quality gate: `check(gate, document, inputs, config)` returns findings. */
export class Gate {
  check(_gate, _document, _inputs, _config) {
    throw new StageError('check is not implemented');
  }
}

/** A host over an object, for tests; records events and log lines. */
export class FakeHost {
  constructor(memory, namespace) {
    this.memory = memory;
    this.namespace = namespace;
    this.events = [];
    this.lines = [];
  }

  lookup(namespace, key) {
    if (Object.hasOwn(this.memory, `${namespace}:${key}`)) return this.memory[`${namespace}:${key}`];
    if (namespace === this.namespace && Object.hasOwn(this.memory, key)) return this.memory[key];
    return MISSING;
  }

  get(namespace, key) {
    const value = this.lookup(namespace, key);
    return value === MISSING ? undefined : { revision: 1n, value: JSON.stringify(value) };
  }

  listKeys(namespace, prefix) {
    return Object.keys(this.memory)
      .map((k) => (k.includes(':') ? k.split(':', 2)[1] : k))
      .filter((k) => k.startsWith(prefix) && this.lookup(namespace, k) !== MISSING)
      .sort();
  }

  emit(name, attributesJson) {
    this.events.push([name, JSON.parse(attributesJson)]);
  }

  log(level, message) {
    this.lines.push([level, message]);
  }
}

/** Runs `stage` as the host does: its output as JSON text, or a `StageError`. */
export function runStage(stage, ctx) {
  let output;
  try {
    output = stage.run(ctx);
  } catch (e) {
    if (e instanceof StageError) throw e;
    throw new StageError(`${e?.name ?? 'Error'}: ${e?.message ?? String(e)}\n${e?.stack ?? ''}`.trimEnd());
  }
  let text;
  try {
    text = JSON.stringify(output);
  } catch (e) {
    throw new StageError(`the output is not JSON-serialisable: ${e.message}`);
  }
  if (text === undefined) throw new StageError('the output is not JSON-serialisable: undefined');
  return text;
}

/** Runs `gate` as the host does; an exception becomes a finding, so that a gate that
 * cannot answer never lets a document through. */
export function checkGate(gate, name, document, inputs, config) {
  try {
    return [...gate.check(name, document, inputs, config)];
  } catch (e) {
    return [new Finding('', 'the gate to answer', e?.name ?? 'Error',
      `gate \`${name}\` threw ${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`)];
  }
}

/** A `StageError` as the WIT `stage-error` variant. */
export function toWitError(e) {
  if (e instanceof InputError) {
    return { tag: 'invalid-input', val: { namespace: e.namespace, key: e.key, pointer: e.pointer, message: e.detail } };
  }
  return { tag: 'failed', val: e.message };
}
