/** Linux backend pieces that need no root: ip's error texts, namespace keys, batch-safe arguments. */
import { describe, expect, it } from 'vitest';
import { errnoFromIpText, netnsKeyProblem } from '../../src/backend/linux/index.js';
import { batchSafe } from '../../src/backend/linux/ip-session.js';

describe('errnoFromIpText', () => {
  it.each([
    ['RTNETLINK answers: File exists', 'EEXIST', undefined],
    ['RTNETLINK answers: No such process', 'ESRCH', undefined],
    ['RTNETLINK answers: Operation not supported', 'EOPNOTSUPP', undefined],
    ['RTNETLINK answers: No route to host', 'EHOSTUNREACH', undefined],
    ['Error: ipv4: Address already assigned.', 'EEXIST', 'ipv4: Address already assigned'],
    ['Error: ipv6: address not found.', 'EADDRNOTAVAIL', 'ipv6: address not found'],
    ['Error: Device for nexthop is not up.', 'ENETDOWN', 'Device for nexthop is not up'],
    ['Error: Nexthop has invalid gateway.', 'ENETUNREACH', 'Nexthop has invalid gateway'],
    ['Error: Can not enslave a bridge to a bridge.', 'ELOOP', 'Can not enslave a bridge to a bridge'],
    ['Error: Unknown device type.', 'EOPNOTSUPP', 'Unknown device type'],
    ['Error: argument "br7" is wrong: Device does not exist', 'ENODEV', 'argument "br7" is wrong: Device does not exist'],
    ['Cannot find device "cnm-x"', 'ENODEV', undefined],
    ['Cannot open network namespace "x": No such file or directory', 'ENOENT', undefined],
    ['Error: something new.', 'EINVAL', 'something new'],
  ] as const)('%s', (text, errno, detail) => {
    expect(errnoFromIpText(text)).toEqual({ errno, detail });
  });

  it('falls back when nothing is recognisable', () => {
    expect(errnoFromIpText('', 'EIO')).toEqual({ errno: 'EIO', detail: undefined });
  });
});

describe('netnsKeyProblem', () => {
  const roots = ['/var/run/docker/netns'];
  it('accepts netns names and files in allowed directories', () => {
    expect(netnsKeyProblem('cnmt-abc', roots)).toBeNull();
    expect(netnsKeyProblem('/var/run/docker/netns/440ff84a781b', roots)).toBeNull();
  });
  it.each(['', '../x', 'a b', '/var/run/docker/netns/../../etc/x', '/var/run/docker/netns/', '/etc/passwd', 'var/run/docker/netns/x', '/var/run/docker/netns/a/b', 'x\0y'])(
    'rejects %j',
    (k) => {
      expect(netnsKeyProblem(k, roots)).not.toBeNull();
    },
  );
});

describe('batchSafe', () => {
  it('lets plain arguments through and sends the rest one-shot', () => {
    expect(batchSafe(['link', 'add', 'cnm-a', 'mtu', '1500', 'address', '02:00:00:00:00:01', 'type', 'veth'])).toBe(true);
    expect(batchSafe(['addr', 'add', 'fd00::1/64', 'dev', 'eth0'])).toBe(true);
    for (const bad of ['a#b', 'a"b', "a'b", 'a\\b', 'a b', '']) expect(batchSafe(['link', 'del', bad]), bad).toBe(false);
  });
});
