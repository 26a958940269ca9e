#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for training.
///
/// A training step frees and reallocates tensors of tens of megabytes. glibc serves blocks over 32 MiB with
/// `mmap` and returns them with `munmap`, so every step pays a page fault and a kernel zero-fill per 4 KiB
/// page (about 10% of a DeepFakes step). `retainFreedMemory()` makes glibc serve them from its heap and keep
/// freed memory for reuse instead; peak memory is unchanged (the step's working set is the same each
/// time). Executables call it once, first thing; it does nothing where glibc's `mallopt` is absent.
public enum TrainingMemory {
    /// `mallopt` parameters from glibc's <malloc.h> (not exported by the Glibc module).
    private static let trimThreshold: Int32 = -1, mmapMax: Int32 = -4

    /// Returns whether the allocator accepted both settings.
    @discardableResult
    public static func retainFreedMemory() -> Bool {
        #if canImport(Glibc)
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let noMaps = mallopt(mmapMax, 0)                  // no mmap-served blocks: everything from the heap
        let noTrim = mallopt(trimThreshold, Int32.max)    // and never hand the heap's top back to the kernel
        return noMaps == 1 && noTrim == 1
        #else
        return false
        #endif
    }
}
