import fs from 'node:fs';
import path from 'node:path';
import { LabFileError, loadYamlLab, parseYamlLab } from '../../scenarios/yaml/lab-file';

const LABS = path.resolve(__dirname, '..', '..', '..', 'scenarios', 'labs');

describe('labs in YAML: validation', () => {
  test('every example lab in scenarios/labs parses, with a control arm whose predicted failures name its expectations', () => {
    const files = fs.readdirSync(LABS).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const lab = loadYamlLab(path.join(LABS, f));
      expect(lab.scenario.name).toMatch(/-yaml$/);
      expect(lab.scenario.control?.fails.length).toBeGreaterThan(0);
    }
  });

  test("the README's YAML lab example is a valid lab", () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const example = /```yaml\n(name: header-routing-yaml[\s\S]*?)```/.exec(readme);
    expect(example).not.toBeNull();
    expect(parseYamlLab(example![1], 'README.md').scenario.control?.fails).toEqual(["jason's requests answered by v2", "other users' requests answered by v1"]);
  });

  test('each mistake is reported at its file:line:column with what would be right, all at once', () => {
    const text = ['name: lab', 'title: t', 'steps:', '  - load: {name: a, path: /x, rps: 10, duration: 2s}', '  - wait: 2 seconds', 'expect:', '  - name: e', '    of: b', '    count: {}', '    equal: 0', '  - name: f', '    of: a', '    latency: {p: 99}', '    max: 10', '    colour: red', ''].join('\n');
    let message = '';
    try {
      parseYamlLab(text, 'my-lab.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(LabFileError);
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'my-lab.yaml:5:5: steps[1].wait: must be a duration like 2s or 500ms, got "2 seconds"',
      'my-lab.yaml:8:5: expect[0].of: names no load step; loads: a',
      'my-lab.yaml:15:5: expect[1].colour: unknown field; expected one of name, of, share, count, latency, access_log, metric, equal, min, max, near, tolerance, unit',
    ]);
  });

  test('a YAML syntax error is reported at its line, before any check', () => {
    expect(() => parseYamlLab('name: x\nsteps: [\n', 'broken.yaml')).toThrow(/^broken\.yaml:\d+:\d+: /);
  });

  test('a control arm that leaves nothing out is refused', () => {
    const text = 'name: x\ntitle: t\nsteps:\n  - load: {name: a, path: /x, rps: 1, count: 1}\nexpect:\n  - {name: e, of: a, count: {}, equal: 1}\ncontrol: {removes: r, shows: s, fails: [e]}\n';
    expect(() => parseYamlLab(text, 'x.yaml')).toThrow('x.yaml:7:1: control: a control arm needs at least one step with policy: true (the steps it leaves out)');
  });
});
