export { InfluxSink, classifyInfluxError, type InfluxSinkOptions, type InfluxSinkStats } from './influx.js';
export { PostgresSink, type PostgresSinkOptions, type PostgresSinkStats } from './postgres.js';
export { classifyPgError } from './postgres-errors.js';
export { parseRetryAfter } from './classify.js';
export {
  SinkError,
  classifyHttpStatus,
  silentLogger,
  type Component,
  type Sink,
  type SinkCatalog,
  type SinkErrorKind,
  type SinkLogger,
} from './types.js';
