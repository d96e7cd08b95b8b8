/** Modbus TCP: the driver, its register codec, and the well-pump simulator. */
export { ModbusTcpDriver, type ModbusTcpDriverOptions } from './tcp-driver.js';
export { decodeBit, decodeRegisters, encodeValue, registerCount } from './decode.js';
export { MAX_READ, planRequests, pointProblem, pointWidth, type PlannedPoint, type ReadRequest } from './plan.js';
export { classifyError, exceptionCode, ModbusErrors, type DeviceFault } from './errors.js';
export { ReconnectBackoff, type BackoffOptions } from './backoff.js';
export { silentLogger, systemClock, type DriverClock, type DriverLogger } from './deps.js';
export { RegisterImage, type RegisterSource } from './register-image.js';
export { startModbusTcpServer, vectorFor, type ModbusTcpServerOptions, type RunningModbusServer } from './server.js';
export { WellPumpSimulator, WELL_PUMP_REGISTERS, wellPumpImage, type SimulatedPoint, type WellPumpPointId, type WellPumpSimulatorOptions } from './simulator.js';
export { WellPumpModel, WELL_PUMP_PHYSICS, type WellPumpState } from './well-pump-model.js';
