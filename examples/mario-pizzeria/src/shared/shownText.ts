// Text that people other than its writer will read: a customer's name on the kitchen board, a pizza's name on the
// menu. Handler-free, like the contracts that use it, so the browser can import it.
//
// The patterns below use the `v` flag (ES2024): properties of strings such as \p{RGI_Emoji_ZWJ_Sequence}, and
// class set operations ([A--B], [A&&B]), exist only there.
import * as z from 'zod';

/**
 * Characters that change how text shows, or show nothing, so that what is read is not what was typed: controls;
 * format characters (bidirectional overrides, isolates and marks, which can make a name read backwards; zero-width
 * spaces and joiners, which make two names look the same; invisible operators, soft hyphens, and the tag
 * characters that can smuggle text past a reader); private-use and unassigned code points, which no two fonts
 * show alike; lone surrogates, half of a character; line and paragraph separators; and whatever else Unicode says
 * shows nothing (fillers such as U+3164, variation selectors). Whole categories rather than a list of code points,
 * so that the next invisible character is refused too. Unassigned means unassigned in the runtime's Unicode (17.0
 * in Node 24): a character newer than that is refused until the runtime catches up.
 *
 * Some of these characters do show, or change what shows, where they stand in the right place: {@link emoji} and
 * {@link inPlace} say where, and only there are they let through.
 */
const hidden = String.raw`[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]`;

/**
 * Emoji built from invisible characters, whole: the zero-width joiner (U+200D) builds 👩‍🍳 from a woman and a
 * cooking pan, and tag characters (U+E0020–E007F) after a black flag build England's, Scotland's and Wales's flags.
 * Only the sequences Unicode recommends (RGI) are let through: a joiner between two pictographs that make no emoji
 * (🍕, U+200D, 🍕) shows as the two of them with nothing between, so two texts would look the same; and a black flag
 * followed by any other tags (a made-up region, or a message spelled in tag letters) shows as a plain black flag
 * with the tags hidden behind it. Unicode lists every valid sequence, so the runtime's list is the test (a sequence
 * newer than the runtime's Unicode is refused until it catches up, like an unassigned character). Each is replaced
 * by U+FFFD, a visible character that is no emoji, letter or virama, so that nothing after it can lean on it (a
 * variation selector or a joiner after a whole emoji does nothing, and stays refused).
 */
const emoji = String.raw`[\p{RGI_Emoji_ZWJ_Sequence}\p{RGI_Emoji_Tag_Sequence}]`;

/**
 * The viramas, by script: the marks with Canonical_Combining_Class Virama (9), which kill a consonant's vowel
 * (क्). JS has no property for a combining class, so they are listed, as of Unicode 17.0; shownText.spec.ts checks
 * the list against the runtime's normalization (which orders marks by combining class). By script, because a
 * virama only does its work on a consonant of its own script: after a Latin letter (Pea\u094D\u200Dch) it is a
 * stray mark, and a joiner after it changes nothing.
 */
const viramas: Readonly<Record<string, string>> = {
  Deva: '\u094D',
  Beng: '\u09CD',
  Guru: '\u0A4D',
  Gujr: '\u0ACD',
  Orya: '\u0B4D',
  Taml: '\u0BCD',
  Telu: '\u0C4D',
  Knda: '\u0CCD',
  Mlym: '\u0D3B\u0D3C\u0D4D',
  Sinh: '\u0DCA',
  Thai: '\u0E3A',
  Laoo: '\u0EBA',
  Tibt: '\u0F84',
  Mymr: '\u1039\u103A',
  Tglg: '\u1714\u1715',
  Hano: '\u1734',
  Khmr: '\u17D2',
  Lana: '\u1A60',
  Bali: '\u1B44',
  Sund: '\u1BAA\u1BAB',
  Batk: '\u1BF2\u1BF3',
  Tfng: '\u2D7F',
  Sylo: '\uA806\uA82C',
  Saur: '\uA8C4',
  Rjng: '\uA953',
  Java: '\uA9C0',
  Mtei: '\uAAF6\uABED',
  Khar: '\u{10A3F}',
  Brah: '\u{11046}\u{11070}\u{1107F}',
  Kthi: '\u{110B9}',
  Cakm: '\u{11133}\u{11134}',
  Shrd: '\u{111C0}',
  Khoj: '\u{11235}',
  Sind: '\u{112EA}',
  Gran: '\u{1134D}',
  Tutg: '\u{113CE}\u{113CF}\u{113D0}',
  Newa: '\u{11442}',
  Tirh: '\u{114C2}',
  Sidd: '\u{115BF}',
  Modi: '\u{1163F}',
  Takr: '\u{116B6}',
  Ahom: '\u{1172B}',
  Dogr: '\u{11839}',
  Diak: '\u{1193D}\u{1193E}',
  Nand: '\u{119E0}',
  Zanb: '\u{11A34}\u{11A47}',
  Soyo: '\u{11A99}',
  Bhks: '\u{11C3F}',
  Gonm: '\u{11D44}\u{11D45}',
  Gong: '\u{11D97}',
  Kawi: '\u{11F41}\u{11F42}',
  Gukh: '\u{1612F}',
};

/** What comes right before a joiner that follows a virama: a letter, its other marks (a nukta), the virama. */
const afterVirama = Object.entries(viramas)
  .map(([script, marks]) => String.raw`[\p{scx=${script}}&&\p{L}][\p{scx=${script}}&&\p{M}]*[${marks}]`)
  .join('|');

/**
 * The cursive scripts, whose letters join their neighbours: Arabic, Syriac, N'Ko, Mandaic, Manichaean, Psalter
 * Pahlavi, Mongolian, Phags-pa, Adlam, Hanifi Rohingya, Sogdian, Old Uyghur, Chorasmian. RFC 5892 asks for a letter
 * that joins forward (Joining_Type L or D), then marks that let the join through (T), the non-joiner, marks, and a
 * letter that joins back (R or D). JS regular expressions know no Joining_Type, so this approximates it by script:
 * a letter of one of these scripts, any non-spacing or enclosing mark, the non-joiner, marks, a letter of the same
 * script. That is looser than the RFC in one way: it takes the letters that join on one side only or not at all
 * (an alef before the non-joiner, a hamza), and Arabic presentation forms, which are already joined or not: a
 * non-joiner next to those changes nothing, and is let through all the same.
 */
const joiningScripts = [
  'Arab',
  'Syrc',
  'Nkoo',
  'Mand',
  'Mani',
  'Phlp',
  'Mong',
  'Phag',
  'Adlm',
  'Rohg',
  'Sogd',
  'Ougr',
  'Chrs',
];
const betweenJoiningLetters = joiningScripts
  .map((script) => {
    const letter = String.raw`[\p{sc=${script}}&&\p{L}]`;
    return String.raw`(?<=${letter}[\p{Mn}\p{Me}]*)\u200C(?=[\p{Mn}\p{Me}]*${letter})`;
  })
  .join('|');

/**
 * The invisible characters that do something where they stand, each in the one place it does, removed before
 * {@link hidden} looks. One pattern, so that every look behind or ahead sees the text as typed, not as a previous
 * removal left it.
 *
 * - U+FE0E and U+FE0F ask for a character's text or emoji presentation (❤️ is ❤ and U+FE0F; the keycap 1️⃣ is 1,
 *   U+FE0F and U+20E3): after a character that has an emoji form, and only there. After a letter (Pea\uFE0Fch), a
 *   skin tone, a flag's half or another selector, they change nothing and only hide.
 * - U+E0100–E01EF ask for one of an ideograph's registered glyphs (Japanese names are written with them: 葛 and
 *   U+E0100 ask for one of the two ways 葛 is written): after an ideograph only; anywhere else they are 240
 *   invisible characters to smuggle text in.
 * - U+180B–180D and U+180F choose a Mongolian letter's form: after a Mongolian letter only.
 * - U+FE00–FE0D (standardized variants of mathematical symbols, CJK compatibility ideographs and a few scripts'
 *   letters) are refused everywhere: no name needs them, and most fonts show nothing for them.
 * - The joiners follow RFC 5892's CONTEXTJ rules (appendix A.1 and A.2), written for the same question in domain
 *   names: where does a joiner change how text shows? Right after a virama, both do: "\u0915\u094D\u200D\u0937"
 *   asks for a half form, "\u0915\u094D\u200C\u0937" for a visible virama, and Sinhala writes the name of its
 *   own country with a joiner ("\u0DC1\u0DCA\u200D\u0DBB\u0DD3", Sri). The non-joiner also does between two
 *   letters that would otherwise join (Persian puts one inside most sentences:
 *   "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645", "I want"). Anywhere else (between Latin letters,
 *   Pea\u200Cch; between Devanagari letters with no virama; the joiner between Arabic letters) they change
 *   nothing a name needs, or nothing at all, and are refused. Joiners inside emoji are {@link emoji}'s. Stricter
 *   than the RFC, which leaves mixed scripts to each registry's rules: the virama must sit on a letter of its own
 *   script ({@link viramas}), and the letters around a non-joiner must share a script ({@link joiningScripts}).
 */
const inPlace = [
  String.raw`(?<=[\p{Emoji}--\p{Emoji_Modifier}--\p{Regional_Indicator}])[\uFE0E\uFE0F]`,
  String.raw`(?<=[\p{Ideographic}\p{sc=Han}])[\u{E0100}-\u{E01EF}]`,
  String.raw`(?<=[\p{sc=Mong}&&\p{L}])[\u180B-\u180D\u180F]`,
  String.raw`(?<=${afterVirama})[\u200C\u200D]`,
  betweenJoiningLetters,
].join('|');

/** The controls a text area types: tabs and line breaks. */
const lineControls = /[\t\n\r]/g;

/**
 * Whether the text hides characters from its readers (see {@link hidden}). Text that may run over lines (an
 * address, notes) may also hold tabs and line breaks.
 */
export function hidesCharacters(text: string, { lines = false }: { readonly lines?: boolean } = {}): boolean {
  const compiled = patterns();
  if (compiled === null) return false;
  const shown = text.replaceAll(compiled.emoji, '\uFFFD').replaceAll(compiled.inPlace, '');
  return compiled.hidden.test(lines ? shown.replaceAll(lineControls, '') : shown);
}

interface Patterns {
  readonly hidden: RegExp;
  readonly emoji: RegExp;
  readonly inPlace: RegExp;
}
let compiled: Patterns | null | undefined;

/**
 * The patterns, made at their first use, or null where the engine has no `v` flag. Browsers have had it since
 * 2023 (Chrome 112, Firefox 116, Safari 17), and the page imports this file with the contracts: a pattern made at
 * load would throw in an older browser and take the whole page with it. There the check is left to the server
 * (Node 24, which has the flag), whose 400 names the field. The server itself never skips the check: there, a
 * pattern that will not compile is an error, thrown, not text let through unchecked.
 */
function patterns(): Patterns | null {
  if (compiled === undefined) {
    try {
      compiled = {
        hidden: new RegExp(hidden, 'v'),
        emoji: new RegExp(emoji, 'gv'),
        inPlace: new RegExp(inPlace, 'gv'),
      };
    } catch (error) {
      if (!('window' in globalThis)) throw error;
      compiled = null;
    }
  }
  return compiled;
}

/**
 * Text others will read, trimmed, of at most `max` characters: refused, naming the field, when it hides
 * characters (stripping them silently would change what was typed). Checked before trimming, because trimming
 * takes U+FEFF and the line separators for white space and would drop them at either end without a word.
 */
export const shownText = (max: number, options: { readonly lines?: boolean } = {}) =>
  z
    .string()
    .refine((text) => !hidesCharacters(text, options), 'Remove invisible or text-direction characters')
    .trim()
    .max(max);
