/** The driver reply rules accept every form dockerd accepts and name what it refuses. */
import { describe, expect, it } from 'vitest';
import { cidr } from '../../conformance/cidr.js';
import { gatewayProblem, ifNameProblem, interfaceNameProblem, macProblem, normalMac, routeProblem } from '../../conformance/driver/rules.js';

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
});
