// stats: JSON in, JSON out, no data stage. {"numbers": [..]} -> count, sum, mean, min, max.
import { fail, JSONWriter, output, readArgs } from '../../sdk/assemblyscript';

export { alloc } from '../../sdk/assemblyscript';

export function run(argsPtr: usize, argsLen: i32): void {
  const numbers = readArgs(argsPtr, argsLen).requireArray('numbers');
  if (numbers.length == 0) fail('"numbers" must hold at least one number');
  let sum = 0.0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < numbers.length; i++) {
    const item = numbers.at(i);
    if (!item.isNumber()) fail('"numbers" must hold numbers only; item ' + i.toString() + ' is ' + item.describe());
    sum += item.num;
    if (item.num < min) min = item.num;
    if (item.num > max) max = item.num;
  }
  const w = new JSONWriter();
  w.beginObject();
  w.key('count').number(numbers.length);
  w.key('sum').number(sum);
  w.key('mean').number(sum / numbers.length);
  w.key('min').number(min);
  w.key('max').number(max);
  w.endObject();
  output(w.toString());
}
