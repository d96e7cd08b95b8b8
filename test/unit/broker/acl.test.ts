import { describe, expect, it } from 'vitest';
import { Acl, filterCovers } from '../../../broker/acl.js';
import { hashPassword, passwordChecker } from '../../../broker/passwords.js';

describe('ACL', () => {
  it('without entries lets every user do anything but touch $SYS', () => {
    const acl = new Acl(undefined);
    expect(acl.canPublish('u', 'any/topic')).toBe(true);
    expect(acl.canPublish('u', '$SYS/x')).toBe(false);
    expect(acl.canSubscribe('u', '#')).toBe(true);
    expect(acl.canSubscribe('u', '$SYS/#')).toBe(false);
  });

  it('with entries allows only what an entry for the user allows; %u is the user', () => {
    const acl = new Acl([
      { user: 'bed-12', publish: ['ward/+/bed/%u/#'], subscribe: [] },
      { user: 'bed-12', publish: ['status/%u'], subscribe: ['config/%u/#'] },
      { user: 'ops', publish: [], subscribe: ['ward/#'] },
    ]);
    expect(acl.canPublish('bed-12', 'ward/3/bed/bed-12/vitals')).toBe(true);
    expect(acl.canPublish('bed-12', 'status/bed-12')).toBe(true);
    expect(acl.canPublish('bed-12', 'ward/3/bed/bed-13/vitals')).toBe(false);
    expect(acl.canPublish('ops', 'ward/3')).toBe(false);
    expect(acl.canPublish('stranger', 'ward/3')).toBe(false);
    expect(acl.canSubscribe('bed-12', 'config/bed-12/+')).toBe(true);
    expect(acl.canSubscribe('bed-12', 'config/#')).toBe(false);
    expect(acl.canSubscribe('ops', 'ward/3/+/#')).toBe(true);
    // a user name with wildcards must not widen its own filter
    expect(new Acl([{ user: '#', publish: ['s/%u'], subscribe: [] }]).canPublish('#', 's/anything')).toBe(false);
  });

  it('judges a subscription filter by what it could receive', () => {
    expect(filterCovers('ward/#', 'ward/+/vitals')).toBe(true);
    expect(filterCovers('ward/+/vitals', 'ward/#')).toBe(false);
    expect(filterCovers('ward/+/vitals', 'ward/+/vitals')).toBe(true);
    expect(filterCovers('ward/3/vitals', 'ward/+/vitals')).toBe(false);
    expect(filterCovers('#', '$SYS/#')).toBe(false);
  });
});

describe('passwords', () => {
  it('checks plain and scrypt passwords', async () => {
    const plain = passwordChecker({ password: 's3cret' });
    expect(await plain(Buffer.from('s3cret'))).toBe(true);
    expect(await plain(Buffer.from('s3cre'))).toBe(false);
    const hashed = passwordChecker({ passwordHash: hashPassword('s3cret') });
    expect(await hashed(Buffer.from('s3cret'))).toBe(true);
    expect(await hashed(Buffer.from('wrong'))).toBe(false);
    expect(hashPassword('x')).toMatch(/^scrypt\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
  });
});
