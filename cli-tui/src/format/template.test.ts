import test from 'ava';
import { FormatError, formatList, renderRows, resolveFormat, templateText } from './table-format.js';
import {
  NIL_MAP,
  NIL_SLICE,
  renderTemplate,
  TemplateExecError,
  TemplateParseError,
  templateStruct,
} from './template.js';

// Expected strings are what docker CLI 28 prints for the same templates (checked against a dockerd).

const data = {
  Names: 'o1',
  State: { Pid: 21366, Running: true, Status: 'running' },
  Config: { Labels: { a: 'b', c: 'd' }, Cmd: ['sleep', '1000'] },
  HostConfig: { Memory: 0 },
  Empty: [],
  Nil: null,
};

test('fields, nested fields, maps and slices print like Go', (t) => {
  t.is(
    renderTemplate(
      '{{.State.Pid}} {{.Config.Labels}} {{json .Config.Labels}} {{.HostConfig.Memory}} {{.Config.Cmd}}',
      data,
    ),
    '21366 map[a:b c:d] {"a":"b","c":"d"} 0 [sleep 1000]',
  );
  t.is(renderTemplate('{{.Missing}}|{{.Nil}}|{{.State.Running}}', data), '<no value>|<nil>|true');
  t.is(renderTemplate('{{index .Config.Labels "c"}}{{index .Config.Cmd 1}}', data), 'd1000');
  t.is(renderTemplate('{{json .Nil}} {{json .Config.Cmd}} {{json "<&>"}}', data), 'null ["sleep","1000"] "<&>"');
});

test("docker's functions", (t) => {
  t.is(
    renderTemplate(
      `{{upper .Names | lower}} {{title "don't go"}} {{pad .Names 2 3}}|{{truncate .Names 1}} {{split "a,b" ","}} {{println 1 2}}x {{print 1 2 "a" 3}} {{printf "%-5s|%05d" "ab" 42}}`,
      data,
    ),
    "o1 Don'T Go   o1   |o [a b] 1 2\nx 1 2a3 ab   |00042",
  );
  t.is(renderTemplate('{{join .Config.Cmd ","}} {{len .Config.Cmd}} {{pad "" 2 2}}|', data), 'sleep,1000 2 |');
  t.is(renderTemplate('{{.Config.Cmd | json}} {{(index .Config.Cmd 0) | upper}}', data), '["sleep","1000"] SLEEP');
});

test('if / else if / else, range with variables, with, break, trim markers, comments', (t) => {
  t.is(renderTemplate('{{if .Empty}}a{{else if .State.Running}}b{{else}}c{{end}}', data), 'b');
  t.is(renderTemplate('{{if eq .Names "x" "o1"}}yes{{end}}{{if not .Nil}}!{{end}}', data), 'yes!');
  t.is(renderTemplate('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', data), 'a=b;c=d;');
  t.is(renderTemplate('{{range .Config.Cmd}}[{{.}}]{{else}}none{{end}}', data), '[sleep][1000]');
  t.is(renderTemplate('{{range .Empty}}x{{else}}none{{end}}', data), 'none');
  t.is(renderTemplate('{{range $i, $e := .Config.Cmd}}{{if $i}}{{break}}{{end}}{{$e}}{{end}}', data), 'sleep');
  t.is(renderTemplate('{{with .State}}{{.Status}} of {{$.Names}}{{end}}', data), 'running of o1');
  t.is(renderTemplate('a  {{- /* note */ -}}  b {{- .Names}}', data), 'abo1');
  t.is(renderTemplate('{{$x := .Names}}{{$x = upper $x}}{{$x}}', data), 'O1');
  t.is(renderTemplate('{{ -3 }} {{"a\\tb"}} {{`raw\\t`}}', data), '-3 a\tb raw\\t');
});

test('parse errors read like Go', (t) => {
  t.throws(() => renderTemplate('{{.Names', data), {
    instanceOf: TemplateParseError,
    message: 'template: :1: unclosed action',
  });
  t.throws(() => renderTemplate('{{nosuch .Names}}', data), {
    instanceOf: TemplateParseError,
    message: 'template: :1: function "nosuch" not defined',
  });
  t.throws(() => renderTemplate('{{if .Names}}', data), { instanceOf: TemplateParseError });
  t.throws(() => renderTemplate('{{end}}', data), { instanceOf: TemplateParseError });
  t.throws(() => renderTemplate('{{break}}', data), { instanceOf: TemplateParseError });
  t.throws(() => renderTemplate('{{"unterminated}}', data), { instanceOf: TemplateParseError });
  t.throws(() => renderTemplate('{{.A | 3}}', data), { instanceOf: TemplateParseError });
});

test('execution errors: structs, missing keys under "error"/"inspect", bad function arguments', (t) => {
  const ctx = templateStruct('*formatter.ContainerContext', { ID: () => 'abc' });
  t.is(renderTemplate('{{.ID}}', ctx), 'abc');
  t.throws(() => renderTemplate('{{.Foo}}', ctx), {
    instanceOf: TemplateExecError,
    message: `template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext`,
  });
  t.throws(() => renderTemplate('{{.Config.Foo}}', data, { missingKey: 'error' }), {
    message: 'template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo"',
  });
  // docker inspect: a missing struct field fails, a missing label does not.
  t.throws(() => renderTemplate('{{.Config.Foo}}', data, { missingKey: 'inspect' }), { instanceOf: TemplateExecError });
  t.is(renderTemplate('{{.Config.Labels.zz}}', data, { missingKey: 'inspect' }), '<no value>');
  t.throws(() => renderTemplate('{{.Missing.Deeper}}', data), { instanceOf: TemplateExecError });
  t.throws(() => renderTemplate('{{upper .Config.Cmd}}', data), { instanceOf: TemplateExecError });
  t.throws(() => renderTemplate('{{index .Config.Cmd 5}}', data), { instanceOf: TemplateExecError });
});

const headers = { ID: 'CONTAINER ID', Names: 'NAMES', Label: 'LABEL' };
const rows = [
  templateStruct('*formatter.ContainerContext', {
    ID: () => '5172565b5445',
    Names: () => 'o1',
    Label: (k: unknown) => `v-${String(k)}`,
  }),
  templateStruct('*formatter.ContainerContext', {
    ID: () => 'aaaaaaaaaaaa',
    Names: () => 'a-longer-name',
    Label: () => '',
  }),
];

test('table format: header row from field names, tab-aligned like docker', (t) => {
  t.is(
    formatList(rows, { format: 'table {{.ID}}\\t{{.Names}}', defaultTable: '' }, headers),
    'CONTAINER ID   NAMES\n5172565b5445   o1\naaaaaaaaaaaa   a-longer-name\n',
  );
  t.is(formatList([], { defaultTable: 'table {{.ID}}\t{{.Names}}' }, headers), 'CONTAINER ID   NAMES\n');
  // "table" alone and "" are the default table; -q is the ID column
  t.is(formatList(rows, { format: 'table', defaultTable: 'table {{.Names}}' }, headers), 'NAMES\no1\na-longer-name\n');
  t.is(formatList(rows, { quiet: true, defaultTable: 'table {{.Names}}' }, headers), '5172565b5445\naaaaaaaaaaaa\n');
  // header functions leave the title alone
  t.is(formatList(rows, { format: 'table {{lower .Names}}', defaultTable: '' }, headers), 'NAMES\no1\na-longer-name\n');
});

test('json and plain templates: one rendering per line', (t) => {
  t.is(
    formatList(rows.slice(0, 1), { format: 'json', defaultTable: '' }, headers),
    '{"ID":"5172565b5445","Names":"o1"}\n',
  );
  t.is(
    formatList(rows, { format: '{{.Names}}:{{.Label "x"}}', defaultTable: '' }, headers),
    'o1:v-x\na-longer-name:\n',
  );
  t.is(templateText('table  {{.A}}\\t{{.B}}\\n'), '{{.A}}\t{{.B}}\n');
  t.is(resolveFormat({ format: '', quiet: false, defaultTable: 'D' }), 'D');
});

test("bad templates are FormatErrors with docker's wording", (t) => {
  t.throws(() => renderRows('{{.Names', rows, headers), {
    instanceOf: FormatError,
    message: 'template parsing error: template: :1: unclosed action',
  });
  t.throws(() => renderRows('{{.Foo}}', rows, headers), {
    instanceOf: FormatError,
    message: `template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext`,
  });
});

test('inspect mode: omitted and null API fields print as Go zero values, json keeps null', (t) => {
  const obj = { Config: { Volumes: null, Cmd: ['a'] }, State: { Status: 'running' } };
  const omittedFields = { Volumes: NIL_MAP, ExposedPorts: NIL_MAP, Entrypoint: NIL_SLICE, Health: null };
  const render = (tmpl: string) => renderTemplate(tmpl, obj, { missingKey: 'inspect', omittedFields });
  t.is(render('{{.Config.Volumes}} {{json .Config.Volumes}}'), 'map[] null');
  t.is(render('{{.Config.ExposedPorts}} {{.Config.Entrypoint}} {{.State.Health}}'), 'map[] [] <nil>');
  t.is(render('{{len .Config.Entrypoint}}{{range .Config.Entrypoint}}x{{end}}{{if .Config.Volumes}}y{{end}}'), '0');
  t.is(render('{{index .Config.Volumes "k"}}'), '<no value>');
  t.throws(() => render('{{.Config.Nope}}'), { message: /map has no entry for key "Nope"/ });
  t.is(render('{{.State}}'), '{running}');
});
