// RPC (POP, signature V1) building blocks shared by the STS client and the IoT OpenAPI client.
export { percentEncode, canonicalQueryString, stringToSign, signRpc, type RpcParams } from './signature';
export { PopError, isRetryable, type PopErrorFields } from './errors';
export { callRpc, buildSignedParams, rpcTimestamp, type RpcRequest, type RpcResponse, type RpcCredentials } from './rpc';
