/** A Diffie-Hellman prime many servers share: precomputation against it pays off across the internet (Logjam). */
export interface KnownDhPrime {
  name: string;
  bits: number;
  prime: bigint;
  /** ≤ 1024 bits: within reach of a nation-state precomputation (weakdh.org), so reuse is a real risk. */
  weak: boolean;
}

const WEAK_PRIME_MAX_BITS = 1024;

const bigintFromBytes = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));
const bigintFromHex = (hex: string): bigint => BigInt(`0x${hex.replace(/\s+/g, '')}`);

/** Guard bits below the fixed point, so the truncated series terms cannot reach the integer part. */
const GUARD_BITS = 64n;

/**
 * The shape shared by the RFC 2409/3526 MODP and RFC 7919 ffdhe primes: p = 2^b − 2^(b−64) − 1 +
 * (⌊2^(b−130)·c⌋ + X)·2^64, with c = π (MODP) or e (ffdhe) and X the smallest offset making p a safe prime
 * (values from the RFCs). Derived on demand: much cheaper than OpenSSL's getDiffieHellman('modp1'),
 * which takes ~50 ms.
 */
function constantPrime(bits: number, scaledConstant: (fractionBits: number) => bigint, offset: bigint): bigint {
  const b = BigInt(bits);
  return (1n << b) - (1n << (b - 64n)) - 1n + ((scaledConstant(bits - 130) + offset) << 64n);
}

/** ⌊2^n·e⌋ from the series Σ 2^n/k!. */
function scaledE(fractionBits: number): bigint {
  let term = 1n << (BigInt(fractionBits) + GUARD_BITS);
  let sum = 0n;
  for (let k = 1n; term > 0n; k++) {
    sum += term;
    term /= k;
  }
  return sum >> GUARD_BITS;
}

/** ⌊2^n·π⌋ by Machin's formula π = 16·atan(1/5) − 4·atan(1/239). */
function scaledPi(fractionBits: number): bigint {
  const one = 1n << (BigInt(fractionBits) + GUARD_BITS);
  const atanInverse = (x: bigint): bigint => {
    let sum = 0n;
    let power = one / x;
    for (let n = 1n, sign = 1n; power > 0n; n += 2n, sign = -sign) {
      sum += (sign * power) / n;
      power /= x * x;
    }
    return sum;
  };
  return (16n * atanInverse(5n) - 4n * atanInverse(239n)) >> GUARD_BITS;
}

/** RFC 2409 §6 and RFC 3526 (π-based). A test checks each against OpenSSL's modp groups. */
const MODP_PRIMES: readonly (readonly [name: string, bits: number, offset: bigint])[] = [
  ['RFC 2409 Oakley group 1', 768, 149686n],
  ['RFC 2409 Oakley group 2', 1024, 129093n],
  ['RFC 3526 group 5', 1536, 741804n],
  ['RFC 3526 group 14', 2048, 124476n],
  ['RFC 3526 group 15', 3072, 1690314n],
  ['RFC 3526 group 16', 4096, 240904n],
  ['RFC 3526 group 17', 6144, 929484n],
  ['RFC 3526 group 18', 8192, 4743158n],
];

/** RFC 7919 §A (e-based). */
const FFDHE_OFFSETS: readonly (readonly [bits: number, offset: bigint])[] = [
  [2048, 560316n],
  [3072, 2625351n],
  [4096, 5736041n],
  [6144, 15705020n],
  [8192, 10965728n],
];

/** RFC 5114 §2.1–2.3 primes (DSA-style groups with small subgroups), checked against OpenSSL's dh_rfc5114 by a test. */
const RFC5114_PRIMES: readonly (readonly [name: string, hex: string])[] = [
  ['RFC 5114 1024-bit MODP group with 160-bit subgroup', `
    B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B61
    6073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BF
    ACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0
    A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371`],
  ['RFC 5114 2048-bit MODP group with 224-bit subgroup', `
    AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75
    E6FA141DF95A56DBAF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A6
    6D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF55B7394B7AD5B7D0B6C12207
    C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A3170918836
    81286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A074
    15987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8
    BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29
    E3FB73C16B8E75B97EF363E2FFA31F71CF9DE5384E71B81C0AC4DFFE0C10E64F`],
  ['RFC 5114 2048-bit MODP group with 256-bit subgroup', `
    87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00
    E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C
    209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B
    6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76
    B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E
    F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026
    C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103
    A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597`],
];

/**
 * Defaults servers shipped hard-coded, as catalogued by nmap's ssl-dh-params and weakdh.org
 * (Apache mod_ssl 2.0/2.2, nginx, OpenSSL's sample parameters). A test checks every one is prime.
 */
const SERVER_DEFAULT_PRIMES: readonly (readonly [name: string, hex: string])[] = [
  ['mod_ssl 2.0 512-bit', `
    D4BCD52406F69B35994B88DE5DB89682C8157F62D8F33633EE5772F11F05AB22
    D6B5145B9F241E5ACC31FF090A4BC71148976F76795094E71E7903529F5A824B`],
  ['mod_ssl 2.0 1024-bit', `
    E6969D3D495BE32C7CF180C3BDD4798E91B7818251BB055E2A2064904A79A770
    FA15A259CBD523A6A6EF09C43048D5A22F971F3C20129B48000E6EDD061CBC05
    3E371D794E5327DF611EBBBE1BAC9B5C6044CF023D76E05EEA9BAD991B13A63C
    974E9EF1839EB5DB125136F7262E56A8871538DFD823C6505085E21F0DD5C86B`],
  ['mod_ssl 2.2 512-bit', `
    9FDB8B8A004544F0045F1737D0BA2E0B274CDF1A9F588218FB435316A16E3741
    71FD19D8D8F37C39BF863FD60E3E300680A3030C6E4C3757D08F70E6AA871033`],
  ['mod_ssl 2.2 1024-bit', `
    D67DE440CBBBDC1936D693D34AFD0AD50C84D239A45F520BB88174CB98BCE951
    849F912E639C72FB13B4B4D7177E16D55AC179BA420B2A29FE324A467A635E81
    FF5901377BEDDCFD33168A461AAD3B72DAE8860078045B07A7DBCA7874087D15
    10EA9FCC9DDD330507DD62DB88AEAA747DE0F4D6E2BD68B0E7393E0F24218EB3`],
  ['nginx 1024-bit', `
    BBBC2DCAD84674907C43FCF580E9CFDBD958A3F568B42D4B08EED4EB0FB3504C
    6C030276E710800C5CCBBAA8922614C5BEECA565A5FDF1D287A2BC049BE67780
    60E91A92A757E3048F68B076F7D36CC8F29BA5DF81DC2CA725ECE66270CC9A50
    35D8CECEEF9EA0274A63AB1E58FAFD4988D0F65D146757DA071DF045CFE16B9B`],
  ['OpenSSL 512-bit', `
    DA583C16D9852289D0E4AF756F4CCA92DD4BE533B804FB0FED94EF9C8A4403ED
    574650D36999DB29D776276BA2D3D412E218F4DD1E084CF6D8003E7C4774E833`],
  ['OpenSSL 1024-bit', `
    97F64261CAB505DD2828E13F1D68B6D3DBD0F313047F40E856DA58CB13B8A1BF
    2B783A4C6D59D5F92AFC6CFF3D693F78B23D4F3160A9502E3EFAF7AB5E1AD5A6
    5E554313828DA83B9FF2D941DEE95689FADAEA0936ADDF1971FE635B20AF4703
    64603C2DE059F54B650AD8FA0CF70121C74799D7587132BE9B999BB9B787E8AB`],
  ['OpenSSL 2048-bit (a)', `
    ED928935824555CB3BFBA2765A690461BF21F3AB53D2CD21DAFF78191152F10E
    C1E255BD686F680053B9226A2FE49A341F65CC59328ABDB1DB49EDDFA71266C3
    FD21047018F07FD6F758511972827B22A934181D2FCB21CF6D92AE43B6A829C7
    27A3CB00C5F2E5FB0AA45985A2BDAD45F0B3ADF9E08135EED983B3CCAEEAEB66
    E6A95766B9F128A53F2280D70BA6F671939B810EF85A90E6CCCA6F665F7AC010
    1A1EF0FC2DB6080C6228B0ECDB8928EE0CA83D6594691669533C536013B02BA7
    D48287AD1C729E4135FCC27CE951DE6185FC199B76600F33F86BB3CA520E29C3
    07E89016CCCC0019B6ADC3A4308B33A1AFD88C8D9D01DBA4C4DD7F0BBD6F38C3`],
  ['OpenSSL 2048-bit (b)', `
    AED037C3BDF33FA2EEDC4390B70A20897B770175E9B92EB20F8061CCD4B5A591
    723C7934FDA9F9F3274490F8506472835BE059271C4F2C035A4EE756A36613F1
    382DBD474DE8A4A0322122E8C730A83C3E4800EEBD6F8548A5181711BA545231
    C843FAC4175FFAF849C440DB446D8462C1C3451B49EFA829F5C48A4C7BAC7F64
    7EE000151AA9ED81101B36AB5C39AAFFEC54A3F8F97C1B7BF406DCB42DC092A5
    BAA06259EFEB3FAB12B426982E8F3EF4B3F7B4C3302A24C8AA4213D845035CE4
    A8ADD31F816616F19E21A5C95080597F8980AD6B814E35855B79E6844491527D
    552B72B7C78D8D6B993A736F8486B30588B8F1B87E89668A8BD3F13DDC517D4B`],
];

/** A catalogue entry whose prime is derived only when a server's prime of the same size needs comparing. */
interface PrimeSource {
  name: string;
  bits: number;
  derive: () => bigint;
}

const SOURCES: readonly PrimeSource[] = [
  ...MODP_PRIMES.map(([name, bits, offset]) => ({ name, bits, derive: () => constantPrime(bits, scaledPi, offset) })),
  ...FFDHE_OFFSETS.map(([bits, offset]) => ({ name: `RFC 7919 ffdhe${bits}`, bits, derive: () => constantPrime(bits, scaledE, offset) })),
  ...[...RFC5114_PRIMES, ...SERVER_DEFAULT_PRIMES].map(([name, hex]) => {
    const prime = bigintFromHex(hex);
    return { name, bits: bitLength(prime), derive: () => prime };
  }),
];

function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

const derived = new Map<PrimeSource, KnownDhPrime>();

function known(source: PrimeSource): KnownDhPrime {
  let entry = derived.get(source);
  if (entry === undefined) {
    entry = { name: source.name, bits: source.bits, prime: source.derive(), weak: source.bits <= WEAK_PRIME_MAX_BITS };
    derived.set(source, entry);
  }
  return entry;
}

/** Every well-known prime, in catalogue order (derives them all). */
export function knownDhPrimes(): readonly KnownDhPrime[] {
  return SOURCES.map(known);
}

/** The well-known prime a server's DH parameters use (big-endian bytes as sent in ServerKeyExchange, or a bigint). */
export function identifyDhPrime(prime: bigint | Buffer): KnownDhPrime | undefined {
  const value = typeof prime === 'bigint' ? prime : bigintFromBytes(prime);
  const bits = bitLength(value);
  for (const source of SOURCES) {
    if (source.bits === bits && known(source).prime === value) return known(source);
  }
  return undefined;
}
