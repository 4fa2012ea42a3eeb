import type { Duplex } from 'node:stream';
import type { ExecSink } from '../../containers/exec-service.js';
import { encodeEntry, frame } from '../stdcopy.js';

/** Writes an exec's output to a hijacked socket: raw for a TTY, stdcopy frames otherwise. */
export function execSink(socket: Duplex, tty: boolean): ExecSink {
  return {
    write(entry) {
      if (!socket.destroyed) socket.write(encodeEntry(entry, { tty, timestamps: false }));
    },
    // dockerd writes a start failure on the stdout stream: framed unless TTY.
    error(message) {
      if (!socket.destroyed) socket.write(tty ? message : frame('stdout', Buffer.from(message)));
    },
    end() {
      if (!socket.destroyed) socket.end();
    },
  };
}
