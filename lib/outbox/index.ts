// Durable outbox: a journal of messages not yet safe at their destination (append with group fsync, ack, replay).
export { Journal, JournalWriteError, OutboxFullError, crc32, type JournalOptions, type JournalRecord, type JournalStats } from './journal';
export { decodeMessage, encodeMessage, type StoredMessage } from './message';
