// Local typings for @alicloud/mns 1.2.0, which ships none. Only what lib/mns uses; shapes taken from running the
// package (spec §10.1): each call resolves {code, headers, body} and throws on an XML <Error> body only.
declare module '@alicloud/mns' {
  namespace MNSClient {
  interface MnsSdkOptions {
    accessKeyId: string;
    accessKeySecret: string;
    securityToken?: string;
    region?: string;
    /** Full URL (http:// or https://); when present, region/secure/internal/vpc are ignored. */
    endpoint?: string;
    secure?: boolean;
    internal?: boolean;
    vpc?: boolean;
    readTimeout?: number;
    connectTimeout?: number;
  }

  interface MnsSdkResponse<B = Record<string, unknown>> {
    code: number;
    headers: Record<string, string | undefined>;
    /** Parsed XML (element text as strings); undefined when the response had no XML body. */
    body: B | undefined;
  }

  /** Per-request options handed to httpx (agent, timeouts). */
  interface MnsSdkRequestOptions {
    agent?: unknown;
    readTimeout?: number;
    connectTimeout?: number;
    timeout?: number;
    /** Called with the http.request options just before the request is made; returns them. */
    beforeRequest?: (options: unknown) => unknown;
    headers?: Record<string, string>;
  }

  }

  class MNSClient {
    constructor(accountId: string, opts: MNSClient.MnsSdkOptions);
    endpoint: string;
    request(
      method: string,
      resource: string,
      type: string,
      body: Buffer | string,
      attentions?: string[],
      opts?: MNSClient.MnsSdkRequestOptions,
    ): Promise<MNSClient.MnsSdkResponse>;
    publishMessage(topic: string, params: Record<string, string>): Promise<MNSClient.MnsSdkResponse>;
    batchReceiveMessage(queue: string, numOfMessages: number, waitSeconds?: number): Promise<MNSClient.MnsSdkResponse>;
    deleteMessage(queue: string, receiptHandle: string): Promise<MNSClient.MnsSdkResponse>;
    batchDeleteMessage(queue: string, receiptHandles: string[]): Promise<MNSClient.MnsSdkResponse>;
    changeMessageVisibility(queue: string, receiptHandle: string, visibilityTimeout: number): Promise<MNSClient.MnsSdkResponse>;
  }

  export = MNSClient;
}
