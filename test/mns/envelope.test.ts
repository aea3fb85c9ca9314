// Every body a real MNS queue (or HTTP push) holds, built from the documented formats (spec §3.2, §11.2, §15.1),
// unwrapped to the inner message and decoded per payload format.
import assert from 'node:assert/strict';
import { decodeMessage, parseJsonExact } from '../../lib/mns';

const NS = 'http://mns.aliyuncs.com/doc/v1/';
const INNER = '{"temp":21.5,"note":"a<b & \\"c\\""}';
const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The XML layout of spec §3.2 (doc typos fixed), with the line breaks and indentation of the doc sample. */
function xmlNotification(message: string, tag?: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Notification xmlns="${NS}">
  <TopicOwner>1234567890123456</TopicOwner>
  <TopicName>iot-telemetry</TopicName>
  <Subscriber>1234567890123456</Subscriber>
  <SubscriptionName>to-app</SubscriptionName>
  <MessageId>D273CD6A89564E54-1-15180395A19-200000001</MessageId>
  <Message>${xmlEscape(message)}</Message>
  <MessageMD5>9D75198CAA17528AB23790C1861987AF</MessageMD5>
  ${tag ? `<MessageTag>${tag}</MessageTag>` : ''}
  <PublishTime>1700000000123</PublishTime>
</Notification>`;
}

function jsonNotification(message: string): string {
  return JSON.stringify({
    TopicOwner: '1234567890123456', TopicName: 'iot-telemetry', Subscriber: '1234567890123456', SubscriptionName: 'to-app',
    MessageId: 'D273CD6A89564E54-1-15180395A19-200000002', Message: message, MessageMD5: 'ABC', MessageTag: 'telemetry',
    PublishTime: '1700000000456',
  });
}

/** The legacy IoT envelope with its messageid as a 19-digit JSON number, exactly as real queues carry it. */
function legacyEnvelope(payload: string, messagetype = 'upload', topic: string | null = '/a1B2c3D4e5F/dev01/user/update'): string {
  const topicJson = topic === null ? 'null' : JSON.stringify(topic);
  return `{"messageid":1073124162769526784,"messagetype":"${messagetype}","topic":${topicJson},"payload":"${Buffer.from(payload).toString('base64')}","timestamp":1526450324}`;
}

describe('lib/mns envelopes: what a queue body really is', function () {
  it('XML <Notification> (the default subscription format) → the inner message and msg.mns.notification', function () {
    const d = decodeMessage(xmlNotification(INNER, 'telemetry'), 'auto');
    assert.equal(d.envelope, 'xml-notification');
    assert.deepEqual(d.payload, JSON.parse(INNER));
    assert.deepEqual(d.notification, {
      topicOwner: '1234567890123456', topicName: 'iot-telemetry', subscriber: '1234567890123456', subscriptionName: 'to-app',
      messageId: 'D273CD6A89564E54-1-15180395A19-200000001', messageMD5: '9D75198CAA17528AB23790C1861987AF',
      messageTag: 'telemetry', publishTime: 1700000000123,
    });
  });

  it('XML without MessageTag, and in text format the inner text exactly', function () {
    const d = decodeMessage(xmlNotification(INNER), 'text');
    assert.equal(d.payload, INNER);
    assert.equal(d.notification?.messageTag, undefined);
  });

  it('JSON notification (PublishTime as a string) → the inner message', function () {
    const d = decodeMessage(jsonNotification(INNER), 'auto');
    assert.equal(d.envelope, 'json-notification');
    assert.deepEqual(d.payload, JSON.parse(INNER));
    assert.equal(d.notification?.publishTime, 1700000000456);
    assert.equal(d.notification?.messageTag, 'telemetry');
    assert.equal(d.notification?.subscriptionName, 'to-app');
  });

  it('a Base64 inner message decodes per payload format (MNS never re-encodes on fan-out)', function () {
    const b64 = Buffer.from([0, 1, 2, 255]).toString('base64');
    const d = decodeMessage(xmlNotification(b64), 'base64');
    assert.deepEqual([...(d.payload as Buffer)], [0, 1, 2, 255]);
  });

  it('SIMPLIFIED and plain queue messages are the body itself', function () {
    assert.deepEqual(decodeMessage(INNER, 'auto'), { envelope: 'plain', payload: JSON.parse(INNER) });
    assert.deepEqual(decodeMessage('plain text', 'auto'), { envelope: 'plain', payload: 'plain text' });
    // XML that is not a notification stays a string.
    assert.equal(decodeMessage('<a>1</a>', 'auto').payload, '<a>1</a>');
    assert.equal(decodeMessage('<Notification><Foo>1</Foo></Notification>', 'auto').envelope, 'plain');
  });

  it('legacy IoT envelope, raw: the device payload, msg.iot, and the 19-digit messageid exact', function () {
    const d = decodeMessage(legacyEnvelope('{"temperature":30}'), 'auto');
    assert.equal(d.envelope, 'legacy-iot');
    assert.deepEqual(d.payload, { temperature: 30 });
    assert.equal(d.iot?.messageId, '1073124162769526784');
    assert.notEqual(String(JSON.parse(legacyEnvelope('x')).messageid), '1073124162769526784', 'JSON.parse would round it');
    assert.equal(d.iot?.productKey, 'a1B2c3D4e5F');
    assert.equal(d.iot?.deviceName, 'dev01');
    assert.equal(d.iot?.messageType, 'upload');
    assert.equal(d.iot?.wrapping, 'raw');
    assert.equal(d.iot?.timestamp, 1526450324);
  });

  it('legacy IoT envelope wrapped in Base64 (what real consumers decode first)', function () {
    const body = Buffer.from(legacyEnvelope('{"temperature":31}')).toString('base64');
    const d = decodeMessage(body, 'auto');
    assert.deepEqual(d.payload, { temperature: 31 });
    assert.equal(d.iot?.messageId, '1073124162769526784');
    assert.equal(d.iot?.wrapping, 'base64');
  });

  it('legacy status message: device named by its payload', function () {
    const status = JSON.stringify({ status: 'online', productKey: 'a1B2c3D4e5F', deviceName: 'dev02', time: '2018-08-31 15:32:28.205' });
    const d = decodeMessage(legacyEnvelope(status, 'status', null), 'auto');
    assert.equal(d.iot?.messageType, 'status');
    assert.equal(d.iot?.deviceName, 'dev02');
    assert.equal(d.iot?.topic, undefined);
  });

  it('a legacy envelope inside a notification keeps both', function () {
    const d = decodeMessage(xmlNotification(legacyEnvelope('{"t":1}')), 'auto');
    assert.equal(d.envelope, 'legacy-iot');
    assert.equal(d.notification?.topicName, 'iot-telemetry');
    assert.deepEqual(d.payload, { t: 1 });
  });

  it('json format refuses a non-JSON inner message with what to choose instead', function () {
    assert.throws(() => decodeMessage(xmlNotification('not json'), 'json'), /not JSON.*"auto" or "text"/);
  });

  it('parseJsonExact keeps unsafe integers exact and leaves everything else as JSON.parse does', function () {
    assert.deepEqual(parseJsonExact('{"a":1073124162769526784,"b":-9007199254740993,"c":9007199254740991,"d":1.5e300,"e":"12345678901234567890","f":[1,2]}'), {
      a: '1073124162769526784', b: '-9007199254740993', c: 9007199254740991, d: 1.5e300, e: '12345678901234567890', f: [1, 2],
    });
    assert.deepEqual(parseJsonExact('{"s":"quote \\" 10731241627695267849 inside"}'), { s: 'quote " 10731241627695267849 inside' });
    assert.throws(() => parseJsonExact('{"a":}'), SyntaxError);
  });
});
