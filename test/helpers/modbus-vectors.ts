/**
 * Known values and the registers a device sends for them in each byte order, computed by hand
 * (big-endian bytes checked with Python's struct; the other orders moved by hand as the table
 * in drivers/modbus/decode.ts says). Shared by the decoder's unit tests and the integration
 * tests, where independent servers are loaded with these registers.
 */
import type { ByteOrder, ModbusType } from '../../config/types.js';

export interface ModbusVector {
  type: ModbusType;
  value: number | boolean;
  wire: Record<ByteOrder, number[]>;
}

export const MODBUS_VECTORS: readonly ModbusVector[] = [
  // int16 -12345 = 0xCFC7
  { type: 'int16', value: -12345, wire: { ABCD: [0xcfc7], CDAB: [0xcfc7], BADC: [0xc7cf], DCBA: [0xc7cf] } },
  { type: 'int16', value: -2, wire: { ABCD: [0xfffe], CDAB: [0xfffe], BADC: [0xfeff], DCBA: [0xfeff] } },
  { type: 'uint16', value: 0x1234, wire: { ABCD: [0x1234], CDAB: [0x1234], BADC: [0x3412], DCBA: [0x3412] } },
  { type: 'uint16', value: 65535, wire: { ABCD: [0xffff], CDAB: [0xffff], BADC: [0xffff], DCBA: [0xffff] } },
  // int32 -2 = 0xFFFFFFFE
  { type: 'int32', value: -2, wire: { ABCD: [0xffff, 0xfffe], CDAB: [0xfffe, 0xffff], BADC: [0xffff, 0xfeff], DCBA: [0xfeff, 0xffff] } },
  // int32 -123456789 = 0xF8A432EB
  { type: 'int32', value: -123456789, wire: { ABCD: [0xf8a4, 0x32eb], CDAB: [0x32eb, 0xf8a4], BADC: [0xa4f8, 0xeb32], DCBA: [0xeb32, 0xa4f8] } },
  { type: 'uint32', value: 0x12345678, wire: { ABCD: [0x1234, 0x5678], CDAB: [0x5678, 0x1234], BADC: [0x3412, 0x7856], DCBA: [0x7856, 0x3412] } },
  { type: 'uint32', value: 4294967295, wire: { ABCD: [0xffff, 0xffff], CDAB: [0xffff, 0xffff], BADC: [0xffff, 0xffff], DCBA: [0xffff, 0xffff] } },
  // float32 123.456 = 0x42F6E979 (decodes to the nearest float32)
  { type: 'float32', value: Math.fround(123.456), wire: { ABCD: [0x42f6, 0xe979], CDAB: [0xe979, 0x42f6], BADC: [0xf642, 0x79e9], DCBA: [0x79e9, 0xf642] } },
  // float32 -1.5 = 0xBFC00000
  { type: 'float32', value: -1.5, wire: { ABCD: [0xbfc0, 0x0000], CDAB: [0x0000, 0xbfc0], BADC: [0xc0bf, 0x0000], DCBA: [0x0000, 0xc0bf] } },
  // float64 123.456 = 0x405EDD2F1A9FBE77
  {
    type: 'float64',
    value: 123.456,
    wire: {
      ABCD: [0x405e, 0xdd2f, 0x1a9f, 0xbe77],
      CDAB: [0xbe77, 0x1a9f, 0xdd2f, 0x405e],
      BADC: [0x5e40, 0x2fdd, 0x9f1a, 0x77be],
      DCBA: [0x77be, 0x9f1a, 0x2fdd, 0x5e40],
    },
  },
  // int64 -1234567890123 = 0xFFFFFEE08E04FB35
  {
    type: 'int64',
    value: -1234567890123,
    wire: {
      ABCD: [0xffff, 0xfee0, 0x8e04, 0xfb35],
      CDAB: [0xfb35, 0x8e04, 0xfee0, 0xffff],
      BADC: [0xffff, 0xe0fe, 0x048e, 0x35fb],
      DCBA: [0x35fb, 0x048e, 0xe0fe, 0xffff],
    },
  },
  // int64 0x0011223344556677 = 4822678189205111
  {
    type: 'int64',
    value: 4822678189205111,
    wire: {
      ABCD: [0x0011, 0x2233, 0x4455, 0x6677],
      CDAB: [0x6677, 0x4455, 0x2233, 0x0011],
      BADC: [0x1100, 0x3322, 0x5544, 0x7766],
      DCBA: [0x7766, 0x5544, 0x3322, 0x1100],
    },
  },
  // uint64 0x0001020304050607 = 283686952306183
  {
    type: 'uint64',
    value: 283686952306183,
    wire: {
      ABCD: [0x0001, 0x0203, 0x0405, 0x0607],
      CDAB: [0x0607, 0x0405, 0x0203, 0x0001],
      BADC: [0x0100, 0x0302, 0x0504, 0x0706],
      DCBA: [0x0706, 0x0504, 0x0302, 0x0100],
    },
  },
  { type: 'bool', value: true, wire: { ABCD: [0x0001], CDAB: [0x0001], BADC: [0x0100], DCBA: [0x0100] } },
  { type: 'bool', value: false, wire: { ABCD: [0x0000], CDAB: [0x0000], BADC: [0x0000], DCBA: [0x0000] } },
];
