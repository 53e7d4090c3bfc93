import { afterEach, describe, expect, it, vi } from 'vitest';
import { hidesCharacters, shownText } from './shownText.ts';

describe('hidesCharacters', () => {
  it('finds controls, format, private-use and unassigned characters, lone surrogates and separators', () => {
    const hiding = {
      'right-to-left override': 'A\u202EB',
      'right-to-left isolate': '\u2067Peach\u2069',
      'left-to-right mark': 'Pe\u200Each',
      'right-to-left mark': '\u200Fevil',
      'Arabic letter mark': 'Pe\u061Cach',
      'invisible separator': 'Pe\u2063ach',
      'tag letter': 'Peach\u{E0070}',
      'cancel tag': 'Peach\u{E007F}',
      'zero-width space': 'Pea\u200Bch',
      'zero-width non-joiner': 'Pea\u200Cch',
      'zero-width joiner between letters': 'Pea\u200Dch',
      'byte-order mark': 'Pe\uFEFFach',
      'soft hyphen': 'Pe\u00ADach',
      'Hangul filler': '\u3164',
      'combining grapheme joiner': 'Pe\u034Fach',
      'private use': '\u{F0000}',
      unassigned: 'Pe\u{10FFFE}ach',
      'lone surrogate': 'Pe\uDC00ach',
      'line separator': 'Pe\u2028ach',
      'paragraph separator': 'Pe\u2029ach',
      null: 'Pe\u0000ach',
      escape: 'Pe\u001B[31mach',
      'line feed': 'Pe\nach',
      tab: 'Pe\tach',
    };
    for (const [what, text] of Object.entries(hiding)) expect(hidesCharacters(text), what).toBe(true);
  });

  it('lets a joiner build an emoji, and nothing else', () => {
    for (const emoji of ['👩‍🍳', '👨‍👩‍👧‍👦', '👩🏽‍🍳', '🏳️‍🌈', '❤️‍🔥', '🐻‍❄️', '🧑‍🦰', '🫱🏻‍🫲🏿']) {
      expect(hidesCharacters(`Chef ${emoji}`), emoji).toBe(false);
    }
    for (const text of ['👩\u200D', '\u200D🍳', '👩\u200D\u200D🍳', 'a\u200D🍳', '👩\u200Da']) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(true);
    }
  });

  it('refuses a joiner between pictographs that make no emoji', () => {
    // Not a sequence Unicode recommends, so it shows as two emoji with an invisible joiner between them.
    for (const text of ['🍕\u200D🍕', '👩\u200D🍕', '🍳\u200D👩', '👨\u200D👩\u200D🍕']) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(true);
    }
  });

  it('lets the joiners through where RFC 5892 says they change how text shows', () => {
    for (const text of [
      '\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645', // Persian: "I want", a non-joiner after its prefix
      '\u062E\u0627\u0646\u0647\u200C\u0647\u0627', // Persian: "houses", a non-joiner before the plural
      '\u0645\u0650\u200C\u062E', // the same, with a vowel mark between the letter and the non-joiner
      '\u0DC1\u0DCA\u200D\u0DBB\u0DD3 \u0DBD\u0D82\u0D9A\u0DCF', // Sinhala: Sri Lanka, a joiner after the virama
      '\u0915\u094D\u200D\u0937', // Devanagari: a half form asked for with a joiner
      '\u0915\u094D\u200C\u0937', // Devanagari: a visible virama asked for with a non-joiner
      '\u0D05\u0D35\u0D7C \u0D05\u0D35\u0D28\u0D4D\u200D', // Malayalam: a chillu in its older spelling
    ]) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(false);
    }
  });

  it('refuses the joiners where they change nothing', () => {
    for (const text of [
      'Pea\u200Cch', // between Latin letters
      'a\u200C\u0645', // between Latin and Arabic
      '\u200C\u0645', // at an end
      '\u0645\u200C', // at the other
      '\u0645 \u200C\u0645', // after a space
      '\u0915\u200C\u0937', // between Devanagari letters with no virama: nothing to keep apart
      '\u0915\u200D\u0937', // nor to join
      '\u0915\u094D\u200C\u200C\u0937', // a second non-joiner after the first
      '\u0628\u200D\u0628', // a joiner between Arabic letters, which join anyway
      '\u0645\u200C\u0712', // a non-joiner between Arabic and Syriac, which do not join each other
      'Pea\u094D\u200Dch', // after a virama on a Latin letter, where it does no work
      '\u0915\u09CD\u200D\u0937', // after a Bengali virama on a Devanagari letter
    ]) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(true);
    }
  });

  it("knows every virama of the runtime's Unicode", () => {
    // Canonical_Combining_Class Virama is 9: a mark whose class lies between U+3099's (8) and U+05B0's (10), as
    // normalization, which orders marks by their class, tells.
    const viramas = new Set<string>();
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      const mark = String.fromCodePoint(codePoint);
      if (!/\p{M}/u.test(mark) || mark === '\u3099' || mark === '\u05B0') continue;
      if (
        `${mark}\u3099`.normalize('NFD') === `\u3099${mark}` &&
        `\u05B0${mark}`.normalize('NFD') === `${mark}\u05B0`
      ) {
        viramas.add(mark);
      }
    }
    expect(viramas.size).toBeGreaterThan(60);
    for (const virama of viramas) {
      // A consonant of the virama's script: the nearest letter before it, in its block.
      let codePoint = virama.codePointAt(0) ?? 0;
      while (!/\p{L}/u.test(String.fromCodePoint(codePoint))) codePoint--;
      const letter = String.fromCodePoint(codePoint);
      for (const joiner of ['\u200C', '\u200D']) {
        const text = `${letter}${virama}${joiner}${letter}`;
        expect(hidesCharacters(text), JSON.stringify(text)).toBe(false);
        expect(hidesCharacters(`a${virama}${joiner}b`), JSON.stringify(`a${virama}${joiner}b`)).toBe(true);
      }
    }
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      const mark = String.fromCodePoint(codePoint);
      if (!/\p{M}/u.test(mark) || viramas.has(mark)) continue;
      for (const joiner of ['\u200C', '\u200D']) {
        const text = `\u0915${mark}${joiner}\u0937`;
        expect(hidesCharacters(text), JSON.stringify(text)).toBe(true);
      }
    }
  });

  it('lets tag characters through only in the subdivision flags Unicode recommends', () => {
    const tags = (letters: string) =>
      [...letters].map((letter) => String.fromCodePoint(0xe0000 + letter.charCodeAt(0))).join('');
    for (const region of ['gbeng', 'gbsct', 'gbwls']) {
      expect(hidesCharacters(`\u{1F3F4}${tags(region)}\u{E007F}`), region).toBe(false);
    }
    for (const text of [
      `\u{1F3F4}${tags('zzzzzz')}\u{E007F}`, // a made-up region
      `\u{1F3F4}${tags('usca')}\u{E007F}`, // well formed, but no flag Unicode recommends
      `\u{1F3F4}${tags('gbeng')}`, // no cancel tag
      `\u{1F3F4}${tags('gbeng')}\u{E007F}\u{E007F}`, // one too many
      `\u{1F3F4}${tags('Pay to 1234!')}\u{E007F}`, // a message hidden behind a black flag
      `\u{1F3F3}${tags('gbeng')}\u{E007F}`, // a white flag
      'Peach\u{E0067}\u{E007F}',
      '\u{1F3F4}\u{E0067}',
    ]) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(true);
    }
  });

  it('lets a variation selector through only after a character it selects a form of', () => {
    for (const text of [
      '\u2764\uFE0F', // ❤️, the emoji form
      '\u263A\uFE0E', // ☺, the text form
      '1\uFE0F\u20E3', // the keycap 1️⃣
      '#\uFE0F\u20E3', // the keycap #️⃣
      '\u845B\u{E0100}\u98FE', // Katsushika, the 葛 in one of its registered glyphs
      '\u1820\u180B', // a Mongolian letter in its second form
    ]) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(false);
    }
    for (const text of [
      'Pea\uFE00ch',
      'Pea\uFE0Fch',
      'Peach\u{E0100}',
      'Peach\u{E0150}\u{E0161}\u{E0179}', // an ideographic selector's payload after Latin
      '\u845B\u{E0100}\u{E0101}', // a second selector after the first
      '\u845B\uFE00', // a standardized variant no name needs
      '\u5C71\uFE0F', // an ideograph has no emoji form
      '\u2764\uFE0F\uFE0F',
      '\u{1F44D}\u{1F3FD}\uFE0F', // after a skin tone
      '\u{1F1EE}\uFE0F\u{1F1F9}', // inside a flag
      '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\uFE0F', // after a whole emoji
      '\uFE0FPeach',
      'a\u180B',
      '\u1820\u180B\u180C',
      '\u0915\u180B',
    ]) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(true);
    }
  });

  it('passes names in any script, with accents, variation selectors and flags', () => {
    for (const name of [
      'Zoë Ångström',
      'Đặng Thị Hương',
      '山田 太郎',
      '김민준',
      'فاطمة',
      'יעל',
      'Ναυσικά',
      'ÿ',
      '❤️',
      '🇮🇹',
      '1️⃣',
      'Zoë',
      'José',
      'Łukasz',
      'Nguyễn',
      'Дмитрий',
      'محمد',
      'राम',
      'லக்ஷ்மி',
      '王小明',
      'สมชาย',
      'ᠮᠣᠩᠭᠣᠯ',
      '👨‍👩‍👧',
      '🏳️‍🌈',
      '👍🏽',
      '\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}', // Scotland's flag
    ]) {
      expect(hidesCharacters(name), name).toBe(false);
    }
  });

  it('lets text over lines hold tabs and line breaks, and nothing else', () => {
    expect(hidesCharacters('Ring twice.\r\n\tThanks!', { lines: true })).toBe(false);
    expect(hidesCharacters('Ring\u2028twice', { lines: true })).toBe(true);
    expect(hidesCharacters('Ring \u202Etwice\n', { lines: true })).toBe(true);
  });
});

describe('shownText', () => {
  it('refuses a hidden character at either end rather than trimming it away', () => {
    expect(shownText(10).safeParse('\uFEFFPeach').success).toBe(false);
    expect(shownText(10).safeParse('Peach\u2028').success).toBe(false);
    expect(shownText(10).parse('  Peach ')).toBe('Peach');
  });
});

describe('in a browser without the v flag (before 2023)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  /** Loads the file afresh where `RegExp` refuses the `v` flag, as before 2023. */
  async function withoutTheVFlag() {
    vi.resetModules();
    const Native = RegExp;
    vi.stubGlobal(
      'RegExp',
      new Proxy(Native, {
        construct(target, args: [string, string?]) {
          if (args[1]?.includes('v'))
            throw new SyntaxError(`Invalid flags supplied to RegExp constructor '${args[1]}'`);
          return Reflect.construct(target, args);
        },
      }),
    );
    return await import('./shownText.ts');
  }

  it('loads, and leaves the check to the server', async () => {
    vi.stubGlobal('window', {});
    const old = await withoutTheVFlag();
    expect(old.hidesCharacters('Pea\u200Bch')).toBe(false);
    expect(old.shownText(10).parse(' Peach ')).toBe('Peach');
  });

  it('on the server, fails loudly rather than let text through unchecked', async () => {
    const old = await withoutTheVFlag();
    expect(() => old.hidesCharacters('Pea\u200Bch')).toThrow(SyntaxError);
    expect(() => old.shownText(10).parse('Peach')).toThrow(SyntaxError);
  });
});
