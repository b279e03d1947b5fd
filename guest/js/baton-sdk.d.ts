// Types of baton's JavaScript SDK (baton-sdk.js, stage.js, gate.js).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export declare class StageError extends Error {
  constructor(message: string);
}

export declare class InputError extends StageError {
  constructor(namespace: string, key: string, pointer: string, message: string);
  readonly namespace: string;
  readonly key: string;
  /** The JSON pointer of the offending field (empty: the whole document). */
  readonly pointer: string;
  readonly detail: string;
}

export declare class Finding {
  constructor(pointer: string, expected: string, actual: string, message: string);
  pointer: string;
  expected: string;
  actual: string;
  message: string;
}

/** What a stage reaches of the host. */
export interface Host {
  get(namespace: string, key: string): { revision: bigint; value: string } | undefined;
  listKeys(namespace: string, prefix: string): string[];
  emit(name: string, attributesJson: string): void;
  log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

export declare class Context {
  readonly stage: string;
  readonly agentName: string;
  readonly agentId: string;
  readonly workflowId: string;
  readonly namespace: string;
  readonly outputKey: string;
  readonly config: { [key: string]: Json };
  static forTest(
    memory?: { [key: string]: Json },
    options?: { stage?: string; namespace?: string; config?: { [key: string]: Json } },
  ): Context;
  /** The document at `key`, or its part at JSON `pointer`; throws `InputError`. */
  read<T = Json>(key: string, pointer?: string, namespace?: string): T;
  readOptional<T = Json>(key: string, namespace?: string): T | undefined;
  listKeys(prefix: string, namespace?: string): string[];
  emit(name: string, attributes?: { [key: string]: Json }): void;
  log(message: string, level?: 'trace' | 'debug' | 'info' | 'warn' | 'error'): void;
}

export declare abstract class Stage {
  abstract run(ctx: Context): Json;
}

export declare abstract class Gate {
  abstract check(
    gate: string,
    document: Json,
    inputs: Array<[namespace: string, key: string, value: Json]>,
    config: { [key: string]: Json },
  ): Finding[];
}

export declare function runStage(stage: Stage, ctx: Context): string;
export declare function checkGate(
  gate: Gate,
  name: string,
  document: Json,
  inputs: Array<[string, string, Json]>,
  config: { [key: string]: Json },
): Finding[];
