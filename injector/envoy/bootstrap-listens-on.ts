/**
 * Whether a bootstrap's static listeners listen on a port with a protocol (their address or an
 * additional address): how the injector's configuration tells that an override really serves
 * what capture sends to the proxy (DNS on 15053 over UDP), instead of trusting that any override does.
 */

type Json = Record<string, unknown>;

const asObject = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined);
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function socketMatches(address: unknown, port: number, protocol: 'TCP' | 'UDP'): boolean {
  const socket = asObject(asObject(address)?.socket_address);
  if (!socket) return false;
  const socketProtocol = typeof socket.protocol === 'string' ? socket.protocol : 'TCP'; // Envoy's default
  return Number(socket.port_value) === port && socketProtocol === protocol;
}

export function bootstrapListensOn(bootstrap: unknown, port: number, protocol: 'TCP' | 'UDP'): boolean {
  const listeners = asList(asObject(asObject(bootstrap)?.static_resources)?.listeners);
  return listeners.some((listener) => {
    const l = asObject(listener);
    if (!l) return false;
    return socketMatches(l.address, port, protocol) || asList(l.additional_addresses).some((extra) => socketMatches(asObject(extra)?.address, port, protocol));
  });
}
