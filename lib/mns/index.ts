// MNS: our own data-plane client, typed errors, retry policy and the bounded publish queue.
export { MnsClient, createMnsAgent, type MnsClientOptions, type CredentialSource, type PublishResult, type ReceivedMessage, type DeleteFailure, type ChangeVisibilityResult } from './client';
export { MnsError, isRetryableCode, type MnsErrorSource } from './errors';
export { mnsEndpoint, endpointFromFields, wholeNumberField, type EndpointOptions, type EndpointFields, type MnsNetwork } from './endpoint';
export { ALIBABA_RETRY, ManualClock, flushMicrotasks, parseRetryPolicy, retryDelay, systemClock, type Clock, type RetryPolicy } from './retry';
export { Publisher, type PublishJob, type PublishOutcome, type PublisherOptions, type PublisherState } from './publisher';
export {
  MAX_BODY_BYTES,
  MAX_TAG_CHARS,
  bodyMd5,
  bodyProblem,
  encodeBody,
  escapeXml,
  looksBase64,
  tagProblem,
  type BodyEncoding,
} from './body';
export {
  decodeInner,
  decodeMessage,
  parseJsonExact,
  parseLegacyEnvelope,
  parseNotification,
  unwrapBody,
  type DecodedMessage,
  type EnvelopeKind,
  type LegacyIotInfo,
  type NotificationInfo,
  type PayloadFormat,
  type Unwrapped,
} from './envelope';
export { QueueConsumer, type ConsumerOptions, type ConsumerStats, type PoisonAction, type PoisonInfo, type QueueClient } from './consumer';
export { MAX_PUSH_BODY_BYTES, PushVerifier, fetchPem, type PushRequest, type PushVerdict, type PushVerifierOptions } from './push-verify';
