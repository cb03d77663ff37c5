import { seededRandom } from '@strata/policy-engine';
import type { ObjectStore } from '../common/object-store';

// Lines from Shakespeare (public domain), the kind of text AutoNDP counted words in.
const LINES = [
  'To be, or not to be, that is the question:',
  'Whether tis nobler in the mind to suffer',
  'The slings and arrows of outrageous fortune,',
  'Or to take arms against a sea of troubles',
  'And by opposing end them. To die, to sleep;',
  'All the world is a stage, and all the men and women merely players;',
  'They have their exits and their entrances, and one man in his time plays many parts.',
  'Shall I compare thee to a summer day? Thou art more lovely and more temperate.',
  'If music be the food of love, play on; give me excess of it.',
  'Now is the winter of our discontent made glorious summer by this sun of York.',
  'The quality of mercy is not strained; it droppeth as the gentle rain from heaven.',
  'Friends, Romans, countrymen, lend me your ears; I come to bury Caesar, not to praise him.',
  'What is in a name? That which we call a rose by any other name would smell as sweet.',
  'Tomorrow, and tomorrow, and tomorrow, creeps in this petty pace from day to day.',
  'Love looks not with the eyes, but with the mind, and therefore is winged Cupid painted blind.',
  'The course of true love never did run smooth.',
  'Cowards die many times before their deaths; the valiant never taste of death but once.',
  'We are such stuff as dreams are made on, and our little life is rounded with a sleep.',
  'Lord, what fools these mortals be!',
  'Some are born great, some achieve greatness, and some have greatness thrust upon them.',
];

/** The sample objects the local cluster and the tests use: a small and a large text. */
export const CORPUS = {
  small: { key: 'corpus/small.txt', bytes: 64 * 1024 },
  large: { key: 'corpus/large.txt', bytes: 4 * 1024 * 1024 },
} as const;

/** Text of about `bytes` bytes: the lines above in a seeded random order, the same on every run. */
export function corpusText(bytes: number, seed = 42): string {
  const random = seededRandom(seed);
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const line = LINES[Math.floor(random() * LINES.length)];
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the corpus into an object store. */
export async function loadCorpus(objects: ObjectStore): Promise<void> {
  for (const { key, bytes } of Object.values(CORPUS)) await objects.put(key, corpusText(bytes));
}
