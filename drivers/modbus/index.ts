/** Modbus TCP, RTU and RTU over TCP: the drivers, the shared bus, the register codec, and the simulators. */
export { ModbusTcpDriver, type ModbusTcpDriverOptions } from './tcp-driver.js';
export { isRtuDevice, ModbusRtuDriver, type ModbusRtuDevice, type ModbusRtuDriverOptions } from './rtu-driver.js';
export { ModbusBus, DEFAULT_MAX_QUEUE, type BusRequest, type BusStats, type ModbusBusOptions } from './bus.js';
export { busKey, linkSettings, ModbusBusRegistry, type BusLease, type ModbusBusRegistryOptions, type RtuConnection } from './bus-registry.js';
export { decodeBit, decodeRegisters, decodeString, decodeValue, encodeString, encodeValue, registerCount, type ValueSpec } from './decode.js';
export { bisect, cutKey, MAX_READ, planRequests, pointProblem, pointWidth, SplitLog, type PlannedPoint, type PlanOptions, type ReadRequest } from './plan.js';
export { ReadCycle, type ReadStats, type RequestResult } from './read-cycle.js';
export { crc16, encodeReadRequest, interFrameMs, parseReadAnswer } from './rtu-frame.js';
export { classifyBusError, classifyError, exceptionCode, ModbusErrors, type BusFault, type DeviceFault } from './errors.js';
export { ReconnectBackoff, type BackoffOptions } from './backoff.js';
export { silentLogger, systemClock, type DriverClock, type DriverLogger } from './deps.js';
export { RegisterImage, type RegisterSource } from './register-image.js';
export { startModbusTcpServer, vectorFor, type ModbusTcpServerOptions, type RunningModbusServer } from './server.js';
export { startModbusRtuServer, unitsVector, type ModbusRtuServerOptions, type RunningRtuServer } from './rtu-server.js';
export { WellPumpSimulator, WELL_PUMP_REGISTERS, wellPumpImage, type SimulatedPoint, type WellPumpPointId, type WellPumpSimulatorOptions } from './simulator.js';
export { WellPumpModel, WELL_PUMP_PHYSICS, type WellPumpState } from './well-pump-model.js';
