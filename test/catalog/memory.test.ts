import { layerMemoryCatalog } from "@cargohold/core/testing"
import { catalogContract } from "./contract.js"

catalogContract("memory", { layer: () => layerMemoryCatalog })
