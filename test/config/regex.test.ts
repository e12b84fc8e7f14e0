import { compileRe2 } from '../../mesh/config/regex';

describe('RE2 regex compatibility (whole-string match)', () => {
  test('matches the whole string, not a substring', () => {
    const re = compileRe2('/api/v[0-9]+');
    expect(re.test('/api/v12')).toBe(true);
    expect(re.test('/api/v12/x')).toBe(false);
    expect(re.test('x/api/v1')).toBe(false);
  });

  test('alternation is anchored as a whole', () => {
    const re = compileRe2('a|b');
    expect(['a', 'b', 'ab'].map((s) => re.test(s))).toEqual([true, true, false]);
  });

  test('leading (?i) becomes case-insensitive; (?P<name>) named groups work', () => {
    expect(compileRe2('(?i)jason').test('JaSoN')).toBe(true);
    expect(compileRe2('(?P<ver>v[12])').test('v2')).toBe(true);
  });

  test.each<[string, RegExp]>([
    ['foo(?=bar)', /lookahead "\(\?=" is not supported by RE2/],
    ['foo(?!bar)', /negative lookahead/],
    ['(?<=a)b', /lookbehind/],
    ['(?<!a)b', /negative lookbehind/],
    ['(a)\\1', /backreference like "\\1"/],
    ['(?<x>a)\\k<x>', /named backreference/],
    ['a++', /possessive quantifier/],
    ['(?>a)', /atomic group/],
    ['(?s)a.b', /inline flags "\(\?s\)"/],
    ['a(?i:b)', /inline flag groups/],
    ['\\Aabc\\z', /"\\A" and "\\z" are not needed/],
    ['a[', /invalid regular expression/],
  ])('rejects %j', (pattern, re) => {
    expect(() => compileRe2(pattern)).toThrow(re);
  });

  test('escaped look-alikes inside classes or escapes are fine', () => {
    expect(compileRe2('[(?=]+').test('(?=')).toBe(true);
    expect(compileRe2('a\\+\\+').test('a++')).toBe(true);
  });
});
