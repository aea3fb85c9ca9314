export { LocalSts, startSts, CERTS_DIR, TEST_CA_FILE, type StsOptions, type StsRole, type StsFaults, type StsLogEntry } from './server';
export { rfc3986, serverStringToSign, expectedSignature } from './signature';
