/**
 * The three architectures a release is built for, in the names each tool uses for them: Node's
 * (`process.arch`-like, also the npm package node-linux-<arch>), node-gyp's, Debian's, the cross
 * compiler's prefix, the ELF machine the built files must carry, and how this machine runs them.
 */
export type Arch = 'x64' | 'arm64' | 'armv7l';

export interface ArchInfo {
  arch: Arch;
  /** node-gyp --arch */
  gyp: 'x64' | 'arm64' | 'arm';
  /** dpkg's name (a .deb's Architecture:) */
  deb: 'amd64' | 'arm64' | 'armhf';
  /** Debian's cross compiler prefix (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf); none for the build machine */
  cross?: string;
  /** ELF e_machine of a binary for it */
  elfMachine: number;
  /** how an x64 machine runs its programs: qemu-user-static with the cross libc as sysroot */
  qemu?: { bin: string; sysroot: string };
}

export const ARCHES: Record<Arch, ArchInfo> = {
  x64: { arch: 'x64', gyp: 'x64', deb: 'amd64', elfMachine: 0x3e },
  arm64: {
    arch: 'arm64',
    gyp: 'arm64',
    deb: 'arm64',
    cross: 'aarch64-linux-gnu',
    elfMachine: 0xb7,
    qemu: { bin: 'qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu' },
  },
  armv7l: {
    arch: 'armv7l',
    gyp: 'arm',
    deb: 'armhf',
    cross: 'arm-linux-gnueabihf',
    elfMachine: 0x28,
    qemu: { bin: 'qemu-arm-static', sysroot: '/usr/arm-linux-gnueabihf' },
  },
};

export const ALL_ARCHES: readonly Arch[] = ['x64', 'arm64', 'armv7l'];

export function parseArch(name: string): Arch {
  if (name in ARCHES) return name as Arch;
  throw new Error(`EDGE_RELEASE_ARCH: unknown architecture '${name}' (known: ${ALL_ARCHES.join(', ')})`);
}
