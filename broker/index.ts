/** The embedded MQTT broker: aedes with authentication and a per-user ACL. */
export { EmbeddedBroker, BrokerErrors, type BrokerLogger, type BrokerMessageHandler, type BrokerStats, type EmbeddedBrokerOptions } from './broker.js';
export { topicMatches } from '../config/topic-pattern.js';
export { Acl, filterCovers } from './acl.js';
export { hashPassword, passwordChecker } from './passwords.js';
