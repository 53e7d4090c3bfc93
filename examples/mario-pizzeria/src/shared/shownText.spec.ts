import { describe, expect, it } from 'vitest';
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

  it('lets the joiners through inside the scripts written with them, and a subdivision flag', () => {
    for (const text of [
      '\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645', // Persian: "I want", a non-joiner after its prefix
      '\u0DC1\u0DCA\u200D\u0DBB\u0DD3 \u0DBD\u0D82\u0D9A\u0DCF', // Sinhala: Sri Lanka, a joiner after the virama
      '\u0915\u094D\u200D\u0937', // Devanagari: a half form asked for with a joiner
      '\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}', // Scotland's flag
    ]) {
      expect(hidesCharacters(text), JSON.stringify(text)).toBe(false);
    }
    // Between Latin letters, or Latin and Arabic, a joiner only hides; tags out of a flag stay refused.
    for (const text of [
      'Pea\u200Cch',
      'a\u200C\u0645',
      '\u200C\u0645',
      'Peach\u{E0067}\u{E007F}',
      '\u{1F3F4}\u{E0067}',
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
