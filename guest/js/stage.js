// The entry of a JavaScript stage component (world `stage`): the host's memory,
// events and log through the WIT imports, and `stageRun(stage)`, the `run` export.
// Only componentize-js resolves these imports; tests use `Context.forTest` instead.

import { get, listKeys } from 'baton:stage/memory@0.1.0';
import { emit } from 'baton:stage/events@0.1.0';
import { log } from 'baton:stage/log@0.1.0';
import { Context, runStage, toWitError } from './baton-sdk.js';

const witHost = {
  get(namespace, key) {
    const entry = get(namespace, key);
    return entry === undefined || entry === null ? undefined : entry;
  },
  listKeys(namespace, prefix) {
    return listKeys(namespace, prefix);
  },
  emit(name, attributesJson) {
    emit(name, attributesJson);
  },
  log(level, message) {
    log(['trace', 'debug', 'info', 'warn', 'error'].includes(level) ? level : 'info', message);
  },
};

/** The `run` export for `stage`: its output as JSON text, or a thrown `stage-error`. */
export function stageRun(stage) {
  return function run(ctx) {
    const context = new Context(witHost, {
      stage: ctx.stage,
      agentName: ctx.agentName,
      agentId: ctx.agentId,
      workflowId: ctx.workflowId,
      namespace: ctx.namespace,
      outputKey: ctx.outputKey,
      config: JSON.parse(ctx.config || '{}'),
    });
    try {
      return runStage(stage, context);
    } catch (e) {
      throw toWitError(e);
    }
  };
}
