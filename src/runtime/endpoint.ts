/**
 * A comlink Endpoint over a Node MessagePort that counts the messages it posts (into the vCPU's
 * control record), so the vCPU knows an RPC is waiting without touching the event loop.
 */
import type { Endpoint } from 'comlink';
import type { MessagePort } from 'node:worker_threads';

type Listener = Parameters<Endpoint['addEventListener']>[1];
type Transfer = Parameters<Endpoint['postMessage']>[1];

export function countingEndpoint(port: MessagePort, beforePost: () => void): Endpoint {
  // Node's MessagePort is an EventTarget whose message events carry `data`, as comlink expects;
  // only postMessage is wrapped.
  const target = port as unknown as EventTarget;
  return {
    postMessage(message: unknown, transfer?: Transfer): void {
      beforePost();
      port.postMessage(message, transfer as never);
    },
    addEventListener(type: string, listener: Listener): void {
      target.addEventListener(type, listener as never);
    },
    removeEventListener(type: string, listener: Listener): void {
      target.removeEventListener(type, listener as never);
    },
    start(): void {
      port.start();
    },
  };
}
