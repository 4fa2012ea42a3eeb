import test from 'ava';
import { eventLine, statsLines, topLines } from './content.js';
import { kindsForEvent } from './engine-store.js';
import {
  appendLines,
  findMatches,
  layoutLogs,
  LineSplitter,
  parseLogLine,
  sanitize,
  splitMatches,
} from './log-buffer.js';
import { PullProgress, PullReferenceError, pullReference } from './pull.js';
import { addSample, deriveStats, EMPTY_HISTORY, rate, sparkline } from './stats.js';

test('log lines: split across chunks, timestamps parsed, buffer bounded', (t) => {
  const s = new LineSplitter();
  t.deepEqual(s.push(Buffer.from('2026-11-23T08:00:00.123456789Z hel')), []);
  const lines = s.push(Buffer.from('lo\n2026-11-23T08:00:01Z wor')).map((l) => parseLogLine(l, false));
  t.deepEqual(lines, [{ ts: '2026-11-23T08:00:00.123456789Z', text: 'hello', stderr: false }]);
  t.deepEqual(s.flush(), ['2026-11-23T08:00:01Z wor']);
  t.deepEqual(parseLogLine('no stamp\r', true), { ts: '', text: 'no stamp', stderr: true });
  const many = Array.from({ length: 30 }, (_, i) => ({ ts: '', text: String(i), stderr: false }));
  const kept = appendLines(appendLines([], many.slice(0, 20), 25), many.slice(20), 25);
  t.is(kept.length, 25);
  t.is(kept[0]?.text, '5');
  t.is(kept.at(-1)?.text, '29');
});

test('logs layout: timestamps toggle, wrap, control sequences stripped, search', (t) => {
  const lines = [
    { ts: '2026-11-23T08:00:00Z', text: 'abcdefghij', stderr: false },
    { ts: '2026-11-23T08:00:01Z', text: '\x1b[2J\x1b[31mred\x1b[0m\tERROR here', stderr: true },
  ];
  t.deepEqual(layoutLogs(lines, { timestamps: false, wrap: false, width: 4 }), ['abcdefghij', 'red    ERROR here']);
  t.deepEqual(layoutLogs(lines.slice(0, 1), { timestamps: false, wrap: true, width: 4 }), ['abcd', 'efgh', 'ij']);
  t.deepEqual(layoutLogs(lines.slice(0, 1), { timestamps: true, wrap: false, width: 80 }), [
    '2026-11-23T08:00:00Z abcdefghij',
  ]);
  t.is(sanitize('a\x1b]0;title\x07b\x07c'), 'abc');
  const shown = layoutLogs(lines, { timestamps: false, wrap: false, width: 80 });
  t.deepEqual(findMatches(shown, 'error'), [1]);
  t.deepEqual(findMatches(shown, ''), []);
  t.deepEqual(splitMatches('an Error and error', 'error'), [
    { text: 'an ', match: false },
    { text: 'Error', match: true },
    { text: ' and ', match: false },
    { text: 'error', match: true },
  ]);
});

test('stats: docker CLI formulas for CPU and memory, rates between samples, sparkline', (t) => {
  const raw = (cpu: number, sys: number, rx: number, read: string) => ({
    read,
    cpu_stats: { cpu_usage: { total_usage: cpu }, system_cpu_usage: sys, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: cpu - 50 }, system_cpu_usage: sys - 1000 },
    memory_stats: { usage: 1000, limit: 4000, stats: { total_inactive_file: 200 } },
    networks: { eth0: { rx_bytes: rx, tx_bytes: 10 } },
    blkio_stats: {
      io_service_bytes_recursive: [
        { op: 'Read', value: 7 },
        { op: 'Write', value: 3 },
      ],
    },
    pids_stats: { current: 4 },
  });
  const a = deriveStats(raw(1000, 10_000, 100, '2026-11-23T08:00:00Z'), 0);
  t.is(a.cpuPercent, 10); // 50/1000 * 2 cpus * 100
  t.is(a.memUsage, 800);
  t.is(a.memPercent, 20);
  t.is(a.blkRead, 7);
  t.is(a.pids, 4);
  const b = deriveStats(raw(2000, 20_000, 2100, '2026-11-23T08:00:02Z'), 0);
  const h = addSample(addSample(EMPTY_HISTORY, a), b);
  t.deepEqual(h.netRxRate, [0, 1000]);
  t.is(rate(10, 5, 1000), 0, 'counter reset');
  t.is(deriveStats({}, 42).cpuPercent, 0);
  t.is(deriveStats({}, 42).time, 42);
  t.is(sparkline([0, 5, 10], 5, 10), '  ▁▅█');
  t.is(sparkline([], 3), '   ');
  const text = statsLines(h, 60).join('\n');
  t.regex(text, /CPU\s+10\.00%/);
  t.regex(text, /NET RX\s+1kB\/s/);
  t.regex(text, /PIDs 4/);
});

test('top table, event lines and which lists an event refreshes', (t) => {
  t.deepEqual(
    topLines({
      Titles: ['PID', 'CMD'],
      Processes: [
        ['1', 'sh'],
        ['12345', 'sleep 1'],
      ],
    }),
    ['PID    CMD', '1      sh', '12345  sleep 1'],
  );
  const die = {
    Type: 'container',
    Action: 'die',
    Actor: { ID: 'abc', Attributes: { name: 'web', exitCode: '137' } },
    timeNano: Date.UTC(2026, 10, 23, 8, 1, 2) * 1e6,
  };
  t.regex(eventLine(die), /^08:01:02 {2}container die {10}web exitCode=137 {2}\(137: SIGKILL/);
  t.deepEqual(kindsForEvent(die), ['containers']);
  t.deepEqual(kindsForEvent({ Type: 'container', Action: 'destroy' }), ['containers', 'images']);
  t.deepEqual(kindsForEvent({ Type: 'network', Action: 'connect' }), ['networks', 'containers']);
  t.deepEqual(kindsForEvent({ Type: 'daemon', Action: 'reload' }), []);
});

test('pull progress folds layer messages into one line; in-band errors throw', (t) => {
  const p = new PullProgress('reg/busybox:latest');
  t.is(p.text(), 'pulling reg/busybox:latest: resolving');
  p.add({ status: 'Pulling from busybox', id: 'latest' });
  p.add({ status: 'Pulling fs layer', id: 'aaa' });
  p.add({ status: 'Pulling fs layer', id: 'bbb' });
  p.add({ status: 'Downloading', id: 'aaa', progressDetail: { current: 500, total: 1000 } });
  p.add({ status: 'Downloading', id: 'bbb', progressDetail: { current: 0, total: 3000 } });
  t.is(p.text(), 'pulling reg/busybox:latest: 0/2 layers, 500B/4kB');
  p.add({ status: 'Pull complete', id: 'aaa' });
  t.is(p.text(), 'pulling reg/busybox:latest: 1/2 layers, 1kB/4kB');
  p.add({ status: 'Status: Downloaded newer image for reg/busybox:latest' });
  t.is(p.summary, 'Status: Downloaded newer image for reg/busybox:latest');
  t.throws(() => p.add({ errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' }), {
    message: 'manifest unknown',
  });
  t.is(pullReference('busybox').tag, 'latest');
  t.throws(() => pullReference('Busybox'), { instanceOf: PullReferenceError });
});
