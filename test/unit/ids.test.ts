// Row ids: RFC 9562 version 7 UUIDs, unique, ordered by the millisecond they were made in.
import { expect } from 'chai';
import { validate, version } from 'uuid';
import { newRowId } from '../../src/store/ids.js';

describe('row ids', function () {
  it('are version 7 UUIDs, all different, across many refills of the random pool', function () {
    const ids = Array.from({ length: 20_000 }, () => newRowId());
    for (const id of ids.slice(0, 300)) {
      expect(validate(id), id).to.equal(true);
      expect(version(id)).to.equal(7);
    }
    expect(new Set(ids).size).to.equal(ids.length);
    // The random part differs between ids made in the same millisecond (the pool is not handed out twice).
    expect(new Set(ids.map((id) => id.slice(15))).size).to.equal(ids.length);
  });

  it('sort by the millisecond they were made in', function () {
    const first = newRowId();
    const t = Date.now();
    while (Date.now() === t) {
      // Spin into the next millisecond: the order under test is the clock's.
    }
    const second = newRowId();
    expect(second > first).to.equal(true);
    expect(Number.parseInt(second.replace(/-/g, '').slice(0, 12), 16)).to.be.at.least(t + 1);
  });
});
