"""Geography of the NEM: region outlines and real places, shared by the simulator and the map."""
