// The MNS error model (spec §7): an XML <Error> body with Code, Message, RequestId and HostId, and the HTTP
// status the real service uses for each code.

export const ERROR_STATUS: Record<string, number> = {
  MessageNotExist: 404,
  QueueNotExist: 404,
  TopicNotExist: 404,
  SubscriptionNotExist: 404,
  InvalidArgument: 400,
  MalformedXML: 400,
  InvalidQueryString: 400,
  InvalidRequestURL: 400,
  InvalidDegist: 400,
  MissingReceiptHandle: 400,
  MissingVisibilityTimeout: 400,
  ReceiptHandleError: 400,
  InvalidAuthorizationHeader: 400,
  MissingAuthorizationHeader: 400,
  MissingDateHeader: 400,
  InvalidDateHeader: 400,
  MissingVersionHeader: 400,
  TimeExpired: 408,
  SignatureDoesNotMatch: 403,
  InvalidAccessKeyId: 403,
  AccessDenied: 403,
  QueueAlreadyExist: 409,
  TopicAlreadyExist: 409,
  SubscriptionAlreadyExist: 409,
  QueueDeletedRecently: 400,
  QueueNameInvalid: 400,
  InvalidQueueName: 400,
  QueueNameLengthError: 400,
  TopicNameInvalid: 400,
  TopicNameLengthError: 400,
  SubscriptionNameInvalid: 400,
  SubscriptionNameLengthError: 400,
  EndpointInvalid: 400,
  QpsLimitExceeded: 400,
  TooManyRequests: 429,
  InternalError: 500,
};

export class MnsError extends Error {
  readonly status: number;
  constructor(readonly code: string, message: string, status?: number) {
    super(message);
    this.name = 'MnsError';
    this.status = status ?? ERROR_STATUS[code] ?? 400;
  }
}
