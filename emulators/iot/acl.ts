// Per-device topic permissions of the local IoT platform: a device may use only its own topics (iot-device §4.3, §4.8).
//   publish and subscribe: /{pk}/{dn}/...  and  /sys/{pk}/{dn}/...  (custom and system topics, wildcards below them)
//   subscribe only:        the product's broadcast topics /broadcast/{pk}/...
//   and, each exactly as named (no wildcard), in the one direction the platform grants:
//     publish:   /shadow/update/{pk}/{dn}, /ota/device/inform/{pk}/{dn}, /ext/ntp/{pk}/{dn}/request,
//                /ext/session/{pk}/{dn}/combine/login, /ext/session/{pk}/{dn}/combine/logout
//     subscribe: /shadow/get/{pk}/{dn}, /ota/device/upgrade/{pk}/{dn}, /ext/ntp/{pk}/{dn}/response,
//                /ext/session/{pk}/{dn}/combine/login_reply, /ext/session/{pk}/{dn}/combine/logout_reply
// A product key or device name with "/", "+" or "#" in it would widen these; the registry never holds one.

function under(prefix: string, topic: string): boolean {
  return topic.length > prefix.length && topic.startsWith(prefix);
}

/** The fixed topics of §4.8 a device may publish to. */
export function devicePublishTopics(productKey: string, deviceName: string): string[] {
  const id = `${productKey}/${deviceName}`;
  return [`/shadow/update/${id}`, `/ota/device/inform/${id}`, `/ext/ntp/${id}/request`, `/ext/session/${id}/combine/login`, `/ext/session/${id}/combine/logout`];
}

/** The fixed topics of §4.8 a device may subscribe to. */
export function deviceSubscribeTopics(productKey: string, deviceName: string): string[] {
  const id = `${productKey}/${deviceName}`;
  return [`/shadow/get/${id}`, `/ota/device/upgrade/${id}`, `/ext/ntp/${id}/response`, `/ext/session/${id}/combine/login_reply`, `/ext/session/${id}/combine/logout_reply`];
}

function ownTree(productKey: string, deviceName: string, topic: string): boolean {
  return under(`/${productKey}/${deviceName}/`, topic) || under(`/sys/${productKey}/${deviceName}/`, topic);
}

export function devicePublishAllowed(productKey: string, deviceName: string, topic: string): boolean {
  if (/[+#]/.test(topic)) return false; // not a topic name
  return ownTree(productKey, deviceName, topic) || devicePublishTopics(productKey, deviceName).includes(topic);
}

export function deviceSubscribeAllowed(productKey: string, deviceName: string, filter: string): boolean {
  if (filter.startsWith('$')) return false; // no shared subscriptions or $SYS for devices
  return ownTree(productKey, deviceName, filter) || under(`/broadcast/${productKey}/`, filter) || deviceSubscribeTopics(productKey, deviceName).includes(filter);
}
