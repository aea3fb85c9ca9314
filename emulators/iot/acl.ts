// Per-device topic permissions of the local IoT platform: a device may use only its own topics.
//   publish:   /{pk}/{dn}/...  and  /sys/{pk}/{dn}/...
//   subscribe: the same, plus the product's broadcast topics /broadcast/{pk}/...

function under(prefix: string, topic: string): boolean {
  return topic.length > prefix.length && topic.startsWith(prefix);
}

export function devicePublishAllowed(productKey: string, deviceName: string, topic: string): boolean {
  return under(`/${productKey}/${deviceName}/`, topic) || under(`/sys/${productKey}/${deviceName}/`, topic);
}

export function deviceSubscribeAllowed(productKey: string, deviceName: string, filter: string): boolean {
  if (filter.startsWith('$')) return false; // no shared subscriptions or $SYS for devices
  return (
    under(`/${productKey}/${deviceName}/`, filter) ||
    under(`/sys/${productKey}/${deviceName}/`, filter) ||
    under(`/broadcast/${productKey}/`, filter)
  );
}
