import { layerMemoryRepositories } from "@cargohold/core/testing"
import { repositoriesContract } from "./contract.js"

repositoriesContract("memory", { layer: () => layerMemoryRepositories })
