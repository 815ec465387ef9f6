// When audit checkpoints are signed: the environment over the configuration file over the defaults.
import { expect } from 'chai';
import { checkpointPolicy } from '../../src/bus/checkpoints.js';

describe('audit checkpoint policy', function () {
  it('takes 1000 events and 60 seconds where neither the file nor the environment says', function () {
    expect(checkpointPolicy({}, {})).to.deep.equal({ everyEvents: 1000, everySeconds: 60 });
  });

  it('takes the configuration file where the environment is silent, field by field', function () {
    expect(checkpointPolicy({ everyEvents: 5 }, {})).to.deep.equal({ everyEvents: 5, everySeconds: 60 });
    expect(checkpointPolicy({ everySeconds: 7 }, {})).to.deep.equal({ everyEvents: 1000, everySeconds: 7 });
  });

  it('lets PAG_CHECKPOINT_EVENTS and PAG_CHECKPOINT_SECONDS override the file, ignoring values that are not positive numbers', function () {
    expect(checkpointPolicy({ everyEvents: 5, everySeconds: 7 }, { PAG_CHECKPOINT_EVENTS: '50', PAG_CHECKPOINT_SECONDS: '3' })).to.deep.equal({ everyEvents: 50, everySeconds: 3 });
    expect(checkpointPolicy({ everyEvents: 5, everySeconds: 7 }, { PAG_CHECKPOINT_EVENTS: 'many', PAG_CHECKPOINT_SECONDS: '-1' })).to.deep.equal({ everyEvents: 5, everySeconds: 7 });
  });
});
