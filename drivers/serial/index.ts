/** Serial line devices: streaming and polled, lines parsed by regex, key=value or CSV. */
export { SerialLineDriver, SerialErrors, type LineEvent, type SerialLineDriverOptions, type SerialStats } from './driver.js';
export { LineSplitter, type SplitResult } from './line-splitter.js';
export { lineParser, splitCsv, type LineFields, type LineParser } from './parse.js';
