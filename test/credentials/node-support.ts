// A minimal consumer of the aliyun-credentials config node, used only by the tests: on input it takes the
// credentials and signs a real STS GetCallerIdentity call with them, like the MNS and IoT nodes will sign theirs.
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { getCallerIdentity } from '../../lib/credentials';
import type { AliyunCredentialsNode } from '../../nodes/aliyun-credentials/aliyun-credentials';

export default function probe(RED: NodeAPI): void {
  function Probe(this: Node, def: NodeDef & { account: string; endpoint: string }): void {
    RED.nodes.createNode(this, def);
    const cfg = RED.nodes.getNode(def.account) as AliyunCredentialsNode | null;
    if (!cfg) {
      this.status({ fill: 'red', shape: 'ring', text: 'missing credentials' });
      return;
    }
    cfg.register(this);
    this.on('input', (msg, send, done) => {
      cfg
        .getCredentials()
        .then((c) => getCallerIdentity({ endpoint: def.endpoint }, c))
        .then((who) => {
          send({ ...msg, payload: { arn: who.arn, identityType: who.identityType } });
          done();
        })
        .catch((err: Error) => done(err));
    });
    this.on('close', (_removed: boolean, done: () => void) => {
      cfg.deregister(this);
      done();
    });
  }
  RED.nodes.registerType('aliyun-credentials-probe', Probe);
}
