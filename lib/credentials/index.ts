// Credential providers for every node that talks to Alibaba Cloud.
export type { Credentials, CredentialProvider } from './types';
export { describeCredentials } from './types';
export { CredentialsConfigError, CredentialsExpiredError, StsError, statusTextFor } from './errors';
export { RefreshingCredentialProvider, type RefreshPolicy, type RefreshedEvent, type RefreshFailedEvent } from './refreshing';
export { assumeRole, getCallerIdentity, STS_VERSION, type AssumeRoleParams, type AssumeRoleResult, type CallerIdentity } from './sts-client';
export {
  StaticAccessKeyProvider,
  AssumeRoleProvider,
  DefaultChainProvider,
  createCredentialProvider,
  validateRole,
  assumeRoleOnce,
  type RoleOptions,
  type ValidatedRole,
  type CredentialsMode,
  type CreateProviderOptions,
  type AnyProvider,
} from './providers';
export * from './validate';
