import assert from 'node:assert/strict';
import { checkTopicName, isValidTopicFilter, parseTopic, parseTopicFilter, topicMatches } from '../../lib/iot/topics';

describe('lib/iot topics: parseTopic', () => {
  it('recognises custom, system and status topics', () => {
    assert.deepEqual(parseTopic('/a1B2c3D4e5F/dev01/user/update'), { topicClass: 'custom', productKey: 'a1B2c3D4e5F', deviceName: 'dev01' });
    assert.deepEqual(parseTopic('/a1B2c3D4e5F/dev01/user/a/b'), { topicClass: 'custom', productKey: 'a1B2c3D4e5F', deviceName: 'dev01' });
    assert.deepEqual(parseTopic('/sys/a1B2c3D4e5F/dev01/thing/event/property/post'), {
      topicClass: 'system',
      productKey: 'a1B2c3D4e5F',
      deviceName: 'dev01',
    });
    assert.deepEqual(parseTopic('/as/mqtt/status/a1B2c3D4e5F/dev01'), { topicClass: 'status', productKey: 'a1B2c3D4e5F', deviceName: 'dev01' });
  });

  it('calls everything else other, keeping the productKey of a broadcast topic', () => {
    for (const t of ['', 'plain', 'a/b/user/x', '/pk/dn/user', '/pk/dn/user/', '/sys/pk/dn', '/sys/pk/dn/', '/as/mqtt/status/pk', '/as/mqtt/status/pk/dn/x', '/pk/dn/thing/event/property/post']) {
      assert.deepEqual(parseTopic(t), { topicClass: 'other' }, t);
    }
    assert.deepEqual(parseTopic('/broadcast/pk/news'), { topicClass: 'other', productKey: 'pk' });
  });
});

describe('lib/iot topics: filters', () => {
  it('splits a shared subscription into group and filter', () => {
    assert.deepEqual(parseTopicFilter('$share/nodered/sys/+/+/thing/#'), {
      subscription: '$share/nodered/sys/+/+/thing/#',
      filter: 'sys/+/+/thing/#',
      shareGroup: 'nodered',
    });
    assert.deepEqual(parseTopicFilter('$share/g//pk/+/user/#').filter, '/pk/+/user/#');
    assert.deepEqual(parseTopicFilter('/pk/+/user/#'), { subscription: '/pk/+/user/#', filter: '/pk/+/user/#' });
  });

  it('refuses malformed filters with a reason', () => {
    assert.throws(() => parseTopicFilter(''), /empty/);
    assert.throws(() => parseTopicFilter('/pk/#/x'), /"#" must be a whole level at the end/);
    assert.throws(() => parseTopicFilter('/pk/dev+/user'), /"\+" must be a whole level/);
    assert.throws(() => parseTopicFilter('$share/g'), /needs a group and a filter/);
    assert.throws(() => parseTopicFilter('$share//x'), /needs a group/);
    assert.throws(() => parseTopicFilter('$share/g/'), /no filter/);
    assert.equal(isValidTopicFilter('#'), true);
    assert.equal(isValidTopicFilter('a#'), false);
  });

  it('matches topics per MQTT rules', () => {
    const yes: Array<[string, string]> = [
      ['#', '/sys/pk/dn/thing/event/property/post'],
      ['/sys/+/+/thing/event/property/post', '/sys/pk/dn/thing/event/property/post'],
      ['/pk/+/user/#', '/pk/dn/user/update'],
      ['/pk/+/user/#', '/pk/dn/user'],
      ['$share/g//pk/dn/user/get', '/pk/dn/user/get'],
      ['+/pk/+/user/+', '/pk/dn/user/x'],
    ];
    const no: Array<[string, string]> = [
      ['/pk/+/user/get', '/pk/dn/user/get/more'],
      ['/pk/+/user/get', '/other/dn/user/get'],
      ['/sys/+/+/thing/#', '/pk/dn/user/get'],
      ['#', '$SYS/broker/heartbeat'],
      ['+/broker', '$SYS/broker'],
      ['/pk/#/bad', '/pk/x/bad'],
    ];
    for (const [f, t] of yes) assert.equal(topicMatches(f, t), true, `${f} ~ ${t}`);
    for (const [f, t] of no) assert.equal(topicMatches(f, t), false, `${f} !~ ${t}`);
  });

  it('checks topic names to publish to', () => {
    assert.equal(checkTopicName('/pk/dn/user/get'), '/pk/dn/user/get');
    assert.throws(() => checkTopicName(''), /topic is empty/);
    assert.throws(() => checkTopicName('/pk/+/user/get'), /wildcard/);
  });
});
