/** The driver reply rules accept every form dockerd accepts and name what it refuses. */
import { describe, expect, it } from 'vitest';
import { cidr } from '../../conformance/cidr.js';
import { gatewayProblem, ifNameProblem, interfaceNameProblem, isLinkLocal, looksRouted, macProblem, normalMac, routeProblem } from '../../conformance/driver/rules.js';
import { parseIp } from '../../conformance/cidr.js';

const pool = cidr('10.199.0.0/28');

describe('driver reply rules', () => {
  it('MACs: 48-bit unicast with : or -, any case', () => {
    for (const ok of ['02:42:ac:11:00:02', '02-42-AC-11-00-02', 'aa:bb:cc:dd:ee:fe']) expect(macProblem(ok), ok).toBeNull();
    expect(macProblem('2:42:ac:11:0:2')).toMatch(/not a 48-bit MAC/);
    expect(macProblem('02:42:ac:11:00')).toMatch(/not a 48-bit MAC/);
    expect(macProblem('02:42:ac:11:00:02:00:01')).toMatch(/not a 48-bit MAC/);
    expect(macProblem('01:00:5e:00:00:01')).toMatch(/multicast/);
    expect(macProblem('00:00:00:00:00:00')).toMatch(/all zero/);
    expect(normalMac('02-42-AC-11-00-02')).toBe('02:42:ac:11:00:02');
  });

  it('interface names: 1-15 bytes, no / : or whitespace; DstPrefix + index too', () => {
    expect(ifNameProblem('veth1234567890a', 'SrcName')).toBeNull();
    expect(ifNameProblem('veth1234567890ab', 'SrcName')).toMatch(/16 bytes/);
    expect(ifNameProblem('vethé123456789', 'SrcName')).toBeNull(); // 15 bytes
    expect(ifNameProblem('vethé1234567890', 'SrcName')).toMatch(/16 bytes/); // 15 characters, 16 bytes
    for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b']) expect(ifNameProblem(bad, 'SrcName'), bad).not.toBeNull();
    expect(interfaceNameProblem('cnm-1', '')).toBeNull();
    expect(interfaceNameProblem('cnm-1', 'eth')).toBeNull();
    expect(interfaceNameProblem('cnm-1', 'abcdefghijklmno')).toMatch(/DstPrefix \+ index/);
  });

  it('gateways: bare IPv4 inside the subnet, not reserved, not the endpoint itself', () => {
    expect(gatewayProblem('10.199.0.1', pool, '10.199.0.2')).toBeNull();
    expect(gatewayProblem('10.199.0.14', pool, '10.199.0.2')).toBeNull();
    expect(gatewayProblem('10.199.0.1/28', pool, '10.199.0.2')).toMatch(/not a bare IP/);
    expect(gatewayProblem('172.17.0.1', pool, '10.199.0.2')).toMatch(/outside/);
    expect(gatewayProblem('10.199.0.15', pool, '10.199.0.2')).toMatch(/broadcast/);
    expect(gatewayProblem('10.199.0.2', pool, '10.199.0.2')).toMatch(/own address/);
    expect(gatewayProblem('fd00::1', pool, '10.199.0.2')).toMatch(/not IPv4/);
  });

  it('static routes: CIDR destination; via a next hop on the subnet, or connected without one', () => {
    expect(routeProblem({ Destination: '10.250.0.0/16', RouteType: 0, NextHop: '10.199.0.1' }, pool)).toBeNull();
    expect(routeProblem({ Destination: '10.251.0.0/16', RouteType: 1 }, pool)).toBeNull();
    expect(routeProblem({ Destination: '10.251.0.0/16', RouteType: 1, NextHop: '' }, pool)).toBeNull();
    expect(routeProblem({ Destination: '0.0.0.0/0', NextHop: '10.199.0.1' }, pool)).toBeNull();
    expect(routeProblem({ Destination: '10.250.0.0', RouteType: 0, NextHop: '10.199.0.1' }, pool)).toMatch(/not a CIDR/);
    expect(routeProblem({ Destination: '10.250.0.0/16', RouteType: 0 }, pool)).toMatch(/NextHop "" is not an IP/);
    expect(routeProblem({ Destination: '10.250.0.0/16', RouteType: 0, NextHop: '192.168.9.1' }, pool)).toMatch(/not on the endpoint's subnet/);
    expect(routeProblem({ Destination: '10.250.0.0/16', RouteType: 1, NextHop: '10.199.0.1' }, pool)).toMatch(/connected/);
    expect(routeProblem({ Destination: 'fd00:1::/64', RouteType: 0, NextHop: '10.199.0.1' }, pool)).toMatch(/other address family/);
  });

  it('routed designs: a gateway off the subnet is reachable link-local or through a connected route of the same reply', () => {
    const host = cidr('10.233.0.7/32');
    const calico = [{ Destination: '169.254.1.1/32', RouteType: 1, NextHop: '' }];
    expect(gatewayProblem('169.254.1.1', host, '10.233.0.7', calico)).toBeNull();
    // IPv4 has no link-local route of its own: without the connected /32 the kernel cannot reach 169.254.1.1.
    expect(gatewayProblem('169.254.1.1', host, '10.233.0.7', [])).toMatch(/not an IPv6 link-local address and covered by no connected static route/);
    expect(gatewayProblem('10.233.255.254', host, '10.233.0.7', [{ Destination: '10.233.255.254/32', RouteType: 1 }])).toBeNull();
    expect(gatewayProblem('10.233.255.254', host, '10.233.0.7', [])).toMatch(/outside the endpoint's subnet 10\.233\.0\.7\/32.*no connected static route/);
    // A via-route does not make the gateway itself reachable.
    expect(gatewayProblem('10.233.255.254', host, '10.233.0.7', [{ Destination: '10.233.255.254/32', RouteType: 0, NextHop: '169.254.1.1' }])).toMatch(/outside/);
    expect(gatewayProblem('fe80::ecee:eeff:feee:1', null, '', [{ Destination: 'fe80::ecee:eeff:feee:1/128', RouteType: 1 }], 6)).toBeNull();
    expect(gatewayProblem('fe80::1', null, '', [], 6)).toBeNull();
    expect(gatewayProblem('2001:db8::1', null, '', [], 6)).toMatch(/no address of that family/);
    expect(gatewayProblem('fd00::1/64', cidr('fd00::/64'), 'fd00::2', [], 6)).toMatch(/not a bare IPv6 address/);
    expect(isLinkLocal(4, parseIp('169.254.0.1')!.value)).toBe(true);
    expect(isLinkLocal(6, parseIp('febf::1')!.value)).toBe(true);
    expect(isLinkLocal(6, parseIp('fec0::1')!.value)).toBe(false);
    // Next hops of via-routes follow the same reachability.
    expect(routeProblem({ Destination: '0.0.0.0/0', RouteType: 0, NextHop: '169.254.1.1' }, host, calico)).toBeNull();
    expect(routeProblem({ Destination: '10.0.0.0/8', RouteType: 0, NextHop: '10.9.9.9' }, host, calico)).toMatch(/not on the endpoint's subnet/);
  });

  it('the design from a Join reply: /32 or a link-local / connected-route gateway is routed; a gateway on the subnet is L2', () => {
    expect(looksRouted('10.233.0.7/32', null)).toBe(true);
    expect(looksRouted('10.199.0.2/28', { Gateway: '169.254.0.1', StaticRoutes: [{ Destination: '169.254.0.1/32', RouteType: 1 }] })).toBe(true);
    expect(looksRouted('10.199.0.2/28', { Gateway: '10.199.0.1' })).toBe(false);
    expect(looksRouted('10.199.0.2/28', {})).toBe(false);
    expect(looksRouted('10.199.0.2/28', null)).toBe(false);
  });
});

