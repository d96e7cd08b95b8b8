/** MQTT sensors: topic filters with {name} captures, payloads as values or JSON paths. */
export { MqttDriver, MqttErrors, pem, type LocalBroker, type MessageEvent, type MessageHandler, type MqttDriverOptions, type MqttStats } from './driver.js';
export { jsonPathSegments, PayloadErrors, PayloadReader, valueAt, type PayloadPoint } from './payload.js';
export { capturedTags, topicMatches } from './topic.js';
