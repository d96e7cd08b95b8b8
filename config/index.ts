/** The config room's public API. Other rooms import from here (types from types.ts). */
export { ConfigError, CONFIG_INVALID } from './errors.js';
export { checkConfig, checkDocument, loadConfig, summarize, CATALOG_KEYS, type CheckResult, type LoadOptions } from './load.js';
export { formatOf, type ConfigFormat } from './parse.js';
export { envPinnedSettings, LOG_FORMATS, LOG_LEVELS, SETTINGS_ENV, SETTINGS_KEYS, type BootstrapKey, type LogFormat, type LogLevel } from './settings.js';
export { substituteEnv } from './substitute.js';
export { resolveDevices } from './resolve.js';
export { cronProblem, MIN_EVERY_MS } from './schedule.js';
export { RESERVED_TAGS } from './tags.js';
export { formatDuration, parseDuration } from './duration.js';
export { formatPath } from './issues.js';
export type * from './types.js';
export { ConfigState, loadBootConfig, withLocalCentral, writeFileAtomic, type BootConfig, type ConfigDocument, type StoredConfig } from './config-state.js';
export { canonicalJson, generateSigningKeys, readPrivateKey, readPublicKey, signContent, verifyContent, SigningKeyError, type SignedContent } from './signing.js';
