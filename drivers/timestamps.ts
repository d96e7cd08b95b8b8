/**
 * Strictly increasing timestamps for one device. A point is identified centrally by device,
 * point and millisecond (PostgreSQL's natural key; InfluxDB's series + time), so two readings of
 * one point in the same millisecond would overwrite or drop each other. That happens with push
 * devices: a burst of serial lines read in one chunk, or many beds publishing under one MQTT
 * device at once. The later one is moved on by a millisecond — far below what a sensor
 * timestamp means — instead of being lost.
 */
export class DeviceTimestamps {
  private last = Number.NEGATIVE_INFINITY;

  next(now: number): number {
    this.last = now > this.last ? now : this.last + 1;
    return this.last;
  }
}
