// Text that people other than its writer will read: a customer's name on the kitchen board, a pizza's name on the
// menu. Handler-free, like the contracts that use it, so the browser can import it.
import * as z from 'zod';

/**
 * Characters that change how text shows, or show nothing, so that what is read is not what was typed: controls;
 * format characters (bidirectional overrides, isolates and marks, which can make a name read backwards; zero-width
 * spaces and joiners, which make two names look the same; invisible operators, soft hyphens, and the tag
 * characters that can smuggle text past a reader); private-use and unassigned code points, which no two fonts
 * show alike; lone surrogates, half of a character; line and paragraph separators; and whatever else Unicode says
 * shows nothing (fillers such as U+3164). Whole categories rather than a list of code points, so that the next
 * invisible character is refused too. Variation selectors are let through, as emoji need them (❤️ is ❤ and
 * U+FE0F). Unassigned means unassigned in the runtime's Unicode (17.0 in Node 24): a character newer than that is
 * refused until the runtime catches up.
 */
const hidden =
  /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]|(?!\p{Variation_Selector})\p{Default_Ignorable_Code_Point}/u;

/**
 * The zero-width joiner (U+200D) is a format character, but it is also how emoji are built: 👩‍🍳 is a woman, a
 * joiner and a cooking pan. Between two pictographs (the first perhaps with its skin tone or U+FE0F) it is let
 * through, since it then joins them into one emoji (or, in a font without that emoji, shows both) rather than
 * hiding anything; anywhere else, between letters or at an end, it is refused like the rest.
 */
const emojiJoiner =
  /(?<=\p{Extended_Pictographic}(?:\p{Emoji_Modifier}|\uFE0F)?)\u200D(?=\p{Extended_Pictographic})/gu;

/**
 * The joiners (U+200C and U+200D) are also how some scripts are written: Persian puts a non-joiner inside most
 * sentences ("mi\u200Cxaham"), Sinhala a joiner in the name of its own country (Sri: "\u0DC1\u0DCA\u200D\u0DBB\u0DD3"), the
 * Indic scripts both. Between two characters of such a script they are let through; between Latin letters
 * ("Pea\u200Cch") they only hide, and are refused.
 */
const joinerScripts =
  '\\p{scx=Arab}\\p{scx=Syrc}\\p{scx=Deva}\\p{scx=Beng}\\p{scx=Guru}\\p{scx=Gujr}\\p{scx=Orya}\\p{scx=Taml}\\p{scx=Telu}' +
  '\\p{scx=Knda}\\p{scx=Mlym}\\p{scx=Sinh}\\p{scx=Mong}';
const scriptJoiner = new RegExp(`(?<=[${joinerScripts}])[\\u200C\\u200D](?=[${joinerScripts}])`, 'gu');

/** A subdivision's flag (🏴 and tag letters: England's, Scotland's, Wales's) is one emoji, not hidden text. */
const subdivisionFlag = /\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{2,6}\u{E007F}/gu;

/** The controls a text area types: tabs and line breaks. */
const lineControls = /[\t\n\r]/g;

/**
 * Whether the text hides characters from its readers (see {@link hidden}). Text that may run over lines (an
 * address, notes) may also hold tabs and line breaks.
 */
export function hidesCharacters(text: string, { lines = false }: { readonly lines?: boolean } = {}): boolean {
  const joined = text
    .replaceAll(emojiJoiner, '')
    .replaceAll(scriptJoiner, '')
    .replaceAll(subdivisionFlag, '\u{1F3F4}');
  return hidden.test(lines ? joined.replaceAll(lineControls, '') : joined);
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
